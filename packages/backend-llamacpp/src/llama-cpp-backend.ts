import { availableParallelism } from "node:os";
import {
  AbortedError,
  DisposedError,
  ContextOverflowError,
  InvalidArgumentError,
  resolveSteering,
  UnsupportedCapabilityError,
  type BackendCapabilities,
  type CaptureRequest,
  type ChatMessage,
  type ContinuationScore,
  type GenerateOptions,
  type Generation,
  type GenerationSession,
  type GenerationSessionOptions,
  type ModelInfo,
  type ResidualCapture,
  type SteeringBackend,
  type SteeringSpec,
  type SteeringTensor,
} from "@emosteer/core";
import {
  checkPromptTokens,
  GenerationText,
  logSoftmaxAt,
  resolveCaptureLayers,
  resolveGenerateOptions,
  steeringPhases,
  tokenizeChatMessages,
} from "@emosteer/core/engine";
import { readModelInfo } from "@emosteer/core/node";
import type { Llama, LlamaModel } from "node-llama-cpp";
import { architectureSupport } from "./architectures.js";
import { ChatTemplate } from "./chat-template.js";
import { controlVectorOf, sameControlVector, type ControlVector } from "./control-vector.js";
import { createGenerationSession, DEFAULT_PARALLEL_SEQUENCES, type PreparedGeneration, type SessionHost } from "./generation-session.js";
import { bindingsOf, loadPatchedLlama, nativeModelOf, type BatchLogitIndex, type NativeContext, type NativeModel } from "./native.js";
import { SerialQueue } from "./serial-queue.js";

export interface LlamaCppBackendProgress {
  readonly stage: "fingerprint" | "load";
  /** 0..1 within the stage. */
  readonly fraction: number;
}

export interface LlamaCppBackendOptions {
  /** Path of the GGUF file. */
  readonly modelPath: string;
  /** Tokens the context holds (prompt + generation, or a captured sequence). Defaults to min(4096, trained context). */
  readonly contextSize?: number;
  /** Tokens decoded per llama_decode call. Defaults to min(512, contextSize). */
  readonly batchSize?: number;
  /** CPU threads. Defaults to the number of available cores. */
  readonly threads?: number;
  /**
   * Layers whose weights go to the GPU, on a GPU build of the addon (EMOSTEER_LLAMA_GPU; see the
   * package README). Defaults to all of them there; ignored (0) on the CPU build.
   */
  readonly gpuLayers?: number;
  /**
   * Jinja chat template (Hugging Face format) used instead of the GGUF's own; needed for files that
   * carry none (the model registry supplies one for those: `ModelSpec.chatTemplate`).
   */
  readonly chatTemplate?: string;
  readonly onProgress?: (progress: LlamaCppBackendProgress) => void;
  readonly signal?: AbortSignal;
}

/** The llama.cpp backend: a {@link SteeringBackend} plus raw logits for engine-parity checks. */
export interface LlamaCppBackend extends SteeringBackend {
  /**
   * Teacher-forces `tokens` and returns the raw logits of every position, `tokens.length ×
   * vocabSize` floats row-major (row p predicts token p + 1), under `steering` if given.
   */
  evaluateLogits(request: {
    readonly tokens: readonly number[];
    readonly steering?: SteeringSpec | null;
    readonly signal?: AbortSignal;
  }): Promise<Float32Array>;
  /**
   * A session on this loaded model that runs up to `parallelSequences` generations at once
   * (default 4), each its own llama.cpp sequence with its own steering and sampler, all active
   * sequences decoded in one llama_decode per step (per-sequence control vectors of the patched
   * llama.cpp). It has a context of its own, so it runs beside the backend's calls; `generate` on
   * the backend itself keeps running each call alone.
   */
  createSession(options?: GenerationSessionOptions): GenerationSession;
}

const SEQUENCE = 0;
const ENGINE = "llama.cpp";

/** One llama.cpp context and the control vector currently installed on it. */
interface ContextSlot {
  readonly native: NativeContext;
  /** The installed whole-context control vector, or null. */
  installed: ControlVector | null;
  /** What the KV cache of SEQUENCE holds after the last capture, for the next one to reuse; null: nothing reusable. */
  kept: KeptSequence | null;
}

/**
 * Tokens at positions 0… in the KV cache, computed under the slot's installed control vector; the
 * cache is written for layers 0..throughLayer only (a capture stops the graph after its last layer).
 */
interface KeptSequence {
  readonly tokens: readonly number[];
  readonly throughLayer: number;
}

/**
 * Creates a {@link SteeringBackend} on llama.cpp (CPU, or the GPU build EMOSTEER_LLAMA_GPU names) through the patched node-llama-cpp.
 *
 * Steering is a llama.cpp control vector on the context. Operations run one at a time per backend
 * and start from an empty KV cache, so concurrent `generate` calls with different steering never
 * leak into each other; to run generations at once, each with its own steering, in one
 * llama_decode per step, use {@link LlamaCppBackend.createSession}. The one exception is
 * `captureResiduals`, on its own context: it keeps the KV cache of the tokens it decoded and the
 * next capture under the same control vector reuses their common prefix up to its span (texts
 * that share a chat prompt share its KV rows), so the prompt is not evaluated again.
 */
export async function createLlamaCppBackend(options: LlamaCppBackendOptions): Promise<LlamaCppBackend> {
  const { modelPath, signal, onProgress } = options;
  if (signal?.aborted) throw new AbortedError(`Opening ${modelPath}`);
  // The same reader every engine uses, so ModelInfo (and the fingerprint vectors are bound to) agree.
  const info = await readModelInfo(modelPath, {
    onProgress: ({ bytes, totalBytes }) => onProgress?.({ stage: "fingerprint", fraction: totalBytes === 0 ? 1 : bytes / totalBytes }),
    ...(signal ? { signal } : {}),
  });
  const llama = await loadPatchedLlama();
  const model = await llama.loadModel({
    modelPath,
    gpuLayers: llama.gpu === false ? 0 : (options.gpuLayers ?? "max"),
    loadSignal: signal,
    onLoadProgress: (fraction) => onProgress?.({ stage: "load", fraction }),
  });
  try {
    return await LlamaCppEngine.open(llama, model, options.chatTemplate ? { ...info, chatTemplate: options.chatTemplate } : info, options);
  } catch (err) {
    await model.dispose();
    throw err;
  }
}

class LlamaCppEngine implements LlamaCppBackend {
  readonly name = ENGINE;
  readonly capabilities: BackendCapabilities;
  private readonly queue = new SerialQueue();
  private readonly nativeModel: NativeModel;
  private readonly chatTemplate: ChatTemplate | undefined;
  private captureSlot: ContextSlot | undefined;
  private readonly sessions = new Set<GenerationSession>();
  private isDisposed = false;

  private constructor(
    private readonly llama: Llama,
    private readonly llamaModel: LlamaModel,
    readonly model: ModelInfo,
    private readonly generationSlot: ContextSlot,
    private readonly contextOptions: { contextSize: number; batchSize: number; threads: number },
  ) {
    this.nativeModel = nativeModelOf(llamaModel);
    const support = architectureSupport(model.architecture);
    this.capabilities = {
      steering: support.steering,
      capture: support.capture,
      logProbs: true,
      seededSampling: true,
      parallelSequences: DEFAULT_PARALLEL_SEQUENCES,
      steerableLayers: { from: 1, to: model.layerCount - 1 },
    };
    if (model.chatTemplate) {
      const tokenText = (token: number | null) => (token == null ? "" : this.nativeModel.detokenize(Uint32Array.of(token), true));
      this.chatTemplate = new ChatTemplate(model.chatTemplate, {
        bos: tokenText(llamaModel.tokens.bos),
        eos: tokenText(llamaModel.tokens.eos),
      });
    }
  }

  static async open(llama: Llama, llamaModel: LlamaModel, model: ModelInfo, options: LlamaCppBackendOptions): Promise<LlamaCppEngine> {
    if (llamaModel.embeddingVectorSize !== model.hiddenSize) {
      throw new Error(
        `llama.cpp reports n_embd ${llamaModel.embeddingVectorSize} for ${options.modelPath}, its GGUF says ${model.hiddenSize}.`,
      );
    }
    const contextSize = options.contextSize ?? Math.min(4096, model.contextLength);
    const batchSize = Math.min(options.batchSize ?? 512, contextSize);
    const threads = options.threads ?? availableParallelism();
    const contextOptions = { contextSize, batchSize, threads };
    const generationSlot = await createSlot(llama, llamaModel, { ...contextOptions, captureActivations: false });
    return new LlamaCppEngine(llama, llamaModel, Object.freeze(model), generationSlot, contextOptions);
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  get contextSize(): number {
    return this.contextOptions.contextSize;
  }

  formatChat(messages: readonly ChatMessage[], options: { readonly addGenerationPrompt?: boolean } = {}): string {
    this.assertAlive();
    if (!this.chatTemplate) {
      throw new UnsupportedCapabilityError(
        ENGINE,
        "format chat messages",
        `model ${this.model.name} has no chat template in its GGUF; pass an already formatted prompt string, or a template as the chatTemplate option`,
      );
    }
    return this.chatTemplate.render(messages, options.addGenerationPrompt ?? true);
  }

  async tokenize(text: string, options: { readonly special?: boolean } = {}): Promise<number[]> {
    this.assertAlive();
    return Array.from(this.nativeModel.tokenize(text, options.special ?? true));
  }

  async tokenizeChat(messages: readonly ChatMessage[], options: { readonly addGenerationPrompt?: boolean } = {}): Promise<number[]> {
    this.assertAlive();
    return this.chatTokens(messages, options.addGenerationPrompt ?? true);
  }

  /** Chat prompt tokens with only the template's markup special (llama.cpp's parse_special off for contents). */
  private chatTokens(messages: readonly ChatMessage[], addGenerationPrompt: boolean): number[] {
    return tokenizeChatMessages(
      {
        render: (m, add) => this.formatChat(m, { addGenerationPrompt: add }),
        tokenize: (text, special) => Array.from(this.nativeModel.tokenize(text, special)),
      },
      messages,
      addGenerationPrompt,
    );
  }

  async detokenize(tokens: readonly number[]): Promise<string> {
    this.assertAlive();
    return this.nativeModel.detokenize(Uint32Array.from(tokens), true);
  }

  async captureResiduals(request: CaptureRequest): Promise<ResidualCapture> {
    this.assertAlive();
    if (!this.capabilities.capture) throw new UnsupportedCapabilityError(ENGINE, `capture residuals of a ${this.model.architecture} model`);
    const { tokens, spanStart, spanEnd, signal } = request;
    const { layerCount, hiddenSize } = this.model;
    const layers = resolveCaptureLayers(request, this.model, this.contextOptions.contextSize);
    const steering = this.resolve(request.steering);
    if (signal?.aborted) throw new AbortedError(`${ENGINE} capture`);

    return this.queue.run(async () => {
      this.assertAlive();
      if (signal?.aborted) throw new AbortedError(`${ENGINE} capture`);
      this.captureSlot ??= await createSlot(this.llama, this.llamaModel, {
        ...this.contextOptions,
        captureActivations: true,
      });
      const slot = this.captureSlot;
      const ctx = slot.native;
      installSteering(slot, controlVectorOf(steering, this.model));
      const lastLayer = Math.max(...layers);
      let reused = reusableTokens(slot.kept, tokens, spanStart, lastLayer);
      slot.kept = null;
      if (reused === 0 || !ctx.removeTokenCellsFromSequence(SEQUENCE, reused, -1)) {
        reused = 0;
        ctx.disposeSequence(SEQUENCE);
      }
      ctx.setActivationCapture(Int32Array.from(layers));
      try {
        // The last block's output only has rows for tokens that request logits, so the span's
        // tokens do; every other block has rows for every decoded token. (No logits are computed:
        // the capture stops the graph after the last captured layer.)
        const outputs = layers.includes(layerCount - 1) ? range(spanStart - reused, spanEnd - reused) : [];
        await this.decode(ctx, tokens.slice(reused), reused, outputs, signal);
        const captured = ctx.takeActivationCapture();
        const decoded = tokens.length - reused;
        const positions = spanEnd - spanStart;
        const data = captured.map((rows, i) => {
          const count = rows.length / hiddenSize;
          if (count === decoded) return rows.slice((spanStart - reused) * hiddenSize, (spanEnd - reused) * hiddenSize);
          if (count === positions) return rows;
          throw new Error(
            `llama.cpp produced ${count} rows for layer ${layers[i]}, expected ${decoded} or ${positions}: this architecture names its residual stream differently.`,
          );
        });
        slot.kept = { tokens: [...tokens], throughLayer: lastLayer };
        return { layers, positions, hiddenSize, data };
      } catch (err) {
        ctx.disposeSequence(SEQUENCE);
        throw err;
      } finally {
        ctx.setActivationCapture(null);
      }
    });
  }

  createSession(options: GenerationSessionOptions = {}): GenerationSession {
    this.assertAlive();
    const engine = this;
    const host: SessionHost = {
      model: this.model,
      contextSize: this.contextOptions.contextSize,
      batchSize: this.contextOptions.batchSize,
      nativeModel: this.nativeModel,
      get disposed() {
        return engine.isDisposed;
      },
      prepare: (prompt, generateOptions) => this.prepare(prompt, generateOptions),
      createContext: async (sequences) => {
        const { contextSize, batchSize, threads } = this.contextOptions;
        // Not unified: llama.cpp gives each sequence its own contextSize cells.
        const slot = await createSlot(this.llama, this.llamaModel, {
          contextSize: contextSize * sequences,
          batchSize: Math.max(batchSize, sequences),
          threads,
          sequences,
          captureActivations: false,
        });
        return slot.native;
      },
      createSampler: () => new (bindingsOf(this.llama).AddonSampler)(this.nativeModel),
      release: (session) => this.sessions.delete(session),
    };
    const session = createGenerationSession(host, options);
    this.sessions.add(session);
    return session;
  }

  /** A generate call's checks, prompt tokens and phased control vectors (shared with sessions). */
  private prepare(prompt: string | readonly ChatMessage[], options: GenerateOptions): PreparedGeneration {
    const { maxTokens, temperature, topK, topP, seed, stop } = resolveGenerateOptions(options);
    const promptTokens = checkPromptTokens(
      prompt,
      typeof prompt === "string" ? Array.from(this.nativeModel.tokenize(prompt, true)) : this.chatTokens(prompt, true),
      this.contextOptions.contextSize,
    );
    const vector = controlVectorOf(this.resolve(options.steering), this.model);
    const phases = steeringPhases(options.steering);
    return {
      promptTokens,
      steering: { prompt: phases.prompt ? vector : null, generation: phases.generation ? vector : null },
      maxTokens,
      sampling: temperature === 0 ? { temperature: 0 } : { temperature, topK, topP, seed },
      stop,
    };
  }

  async generate(prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): Promise<Generation> {
    this.assertAlive();
    const started = performance.now();
    const { promptTokens, steering, maxTokens, sampling, stop } = this.prepare(prompt, options);
    const { contextSize } = this.contextOptions;
    const { signal, onToken } = options;
    const what = `${ENGINE} generation`;
    if (signal?.aborted) throw new AbortedError(what);

    return this.queue.run(
      async () => {
        this.assertAlive();
        const slot = this.generationSlot;
        const ctx = slot.native;
        ctx.disposeSequence(SEQUENCE);
        installSteering(slot, steering.prompt);
        const sampler = new (bindingsOf(this.llama).AddonSampler)(this.nativeModel);
        sampler.applyConfig(sampling);
        const generated: number[] = [];
        const text = new GenerationText(stop);
        let finishReason: Generation["finishReason"] = "length";
        let promptMs = 0;
        let firstTokenMs = 0;
        try {
          // The prompt pass stops between batches when aborted; aborted before any token exists, the call rejects.
          let [logitIndex] = await this.decode(ctx, promptTokens, 0, [promptTokens.length - 1], signal, undefined, what);
          this.assertAlive();
          if (signal?.aborted) throw new AbortedError(what);
          promptMs = performance.now() - started;
          // The generated tokens are evaluated under the generation phase's steering (apply: "prompt" | "generation").
          if (steering.prompt !== steering.generation) installSteering(slot, steering.generation);
          for (;;) {
            const token = await ctx.sampleToken(logitIndex!, sampler);
            if (token === -1 || this.nativeModel.isEogToken(token)) {
              finishReason = "stop";
              break;
            }
            if (generated.length === 0) firstTokenMs = performance.now() - started;
            generated.push(token);
            // Updated whether or not anyone streams: it also finds the stop strings.
            const piece = text.update(this.nativeModel.detokenize(Uint32Array.from(generated), true));
            onToken?.({ token, text: piece });
            if (text.stopped) {
              finishReason = "stop";
              break;
            }
            if (generated.length >= maxTokens || promptTokens.length + generated.length >= contextSize) break; // "length"
            // Disposed mid-generation: stop here, before dispose() frees the context.
            this.assertAlive();
            if (signal?.aborted) {
              finishReason = "abort";
              break;
            }
            [logitIndex] = await this.decode(ctx, [token], promptTokens.length + generated.length - 1, [0], undefined);
          }
        } finally {
          sampler.dispose();
          ctx.disposeSequence(SEQUENCE);
        }
        const rest = text.finish();
        if (rest) onToken?.({ token: -1, text: rest });
        const ended = performance.now();
        return {
          text: text.text,
          tokens: generated,
          finishReason,
          timings: {
            promptTokens: promptTokens.length,
            generatedTokens: generated.length,
            promptMs,
            decodeMs: ended - started - promptMs,
            firstTokenMs: generated.length > 0 ? firstTokenMs : 0,
          },
        };
      },
      signal,
      what,
    );
  }

  async scoreContinuation(
    prompt: string,
    continuation: string,
    options: { readonly steering?: SteeringSpec | null; readonly signal?: AbortSignal } = {},
  ): Promise<ContinuationScore> {
    this.assertAlive();
    const steering = this.resolve(options.steering);
    if (options.signal?.aborted) throw new AbortedError(`${ENGINE} scoring`);
    return this.queue.run(async () => {
      this.assertAlive();
      const promptTokens = Array.from(this.nativeModel.tokenize(prompt, true));
      const continuationTokens = Array.from(this.nativeModel.tokenize(continuation, true));
      if (promptTokens.length === 0)
        throw new InvalidArgumentError(
          "prompt",
          prompt,
          "text that tokenizes to at least one token (the first continuation token is predicted from it)",
        );
      const tokens = [...promptTokens, ...continuationTokens];
      if (tokens.length > this.contextOptions.contextSize) {
        throw new ContextOverflowError("Prompt + continuation", tokens.length, this.contextOptions.contextSize);
      }
      const slot = this.generationSlot;
      slot.native.disposeSequence(SEQUENCE);
      installSteering(slot, controlVectorOf(steering, this.model));
      const logProbs = new Float32Array(continuationTokens.length);
      try {
        // The logits at position p predict token p + 1.
        const outputs = range(promptTokens.length - 1, tokens.length - 1);
        let scored = 0;
        await this.decode(slot.native, tokens, 0, outputs, options.signal, (outputCount) => {
          const logits = slot.native.getBatchLogits();
          const vocab = logits.length / outputCount;
          for (let row = 0; row < outputCount; row++, scored++) {
            logProbs[scored] = logSoftmaxAt(logits, row * vocab, vocab, continuationTokens[scored]!);
          }
        });
      } finally {
        slot.native.disposeSequence(SEQUENCE);
      }
      let total = 0;
      for (const lp of logProbs) total += lp;
      return { tokens: continuationTokens, logProbs, total };
    });
  }

  async evaluateLogits(request: {
    readonly tokens: readonly number[];
    readonly steering?: SteeringSpec | null;
    readonly signal?: AbortSignal;
  }): Promise<Float32Array> {
    this.assertAlive();
    const { tokens, signal } = request;
    if (tokens.length === 0) throw new InvalidArgumentError("tokens", "[]", "at least one token");
    if (tokens.length > this.contextOptions.contextSize)
      throw new ContextOverflowError("Sequence", tokens.length, this.contextOptions.contextSize);
    const steering = this.resolve(request.steering);
    if (signal?.aborted) throw new AbortedError(`${ENGINE} evaluation`);
    return this.queue.run(async () => {
      this.assertAlive();
      const slot = this.generationSlot;
      slot.native.disposeSequence(SEQUENCE);
      installSteering(slot, controlVectorOf(steering, this.model));
      const rows: Float32Array[] = [];
      try {
        await this.decode(slot.native, tokens, 0, range(0, tokens.length), signal, () => rows.push(slot.native.getBatchLogits()));
      } finally {
        slot.native.disposeSequence(SEQUENCE);
      }
      const out = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
      let offset = 0;
      for (const r of rows) {
        out.set(r, offset);
        offset += r.length;
      }
      return out;
    });
  }

  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    this.isDisposed = true;
    // Sessions fail their generations with DisposedError at the next token and free their contexts first.
    await Promise.all([...this.sessions].map((session) => session.dispose()));
    // Wait for the running operation; queued ones fail with DisposedError when they start.
    await this.queue.run(async () => {
      await this.generationSlot.native.dispose();
      await this.captureSlot?.native.dispose();
      await this.llamaModel.dispose();
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /**
   * Teacher-forces `tokens` at positions `firstPosition…` in chunks of the batch size, requesting
   * logits for the token indexes in `outputs` (ascending). Returns the batch logit index of each
   * output of the last chunk; `afterChunk` runs after every decode (to read that chunk's logits).
   */
  private async decode(
    ctx: NativeContext,
    tokens: readonly number[],
    firstPosition: number,
    outputs: readonly number[],
    signal: AbortSignal | undefined,
    afterChunk?: (outputCount: number) => void,
    what = `${ENGINE} evaluation`,
  ): Promise<BatchLogitIndex[]> {
    const { batchSize } = this.contextOptions;
    let logitIndexes: BatchLogitIndex[] = [];
    for (let start = 0; start < tokens.length; start += batchSize) {
      if (signal?.aborted) throw new AbortedError(what);
      this.assertAlive();
      const end = Math.min(tokens.length, start + batchSize);
      const chunkOutputs = outputs.filter((i) => i >= start && i < end).map((i) => i - start);
      ctx.initBatch(end - start);
      logitIndexes = Array.from(
        ctx.addToBatch(SEQUENCE, firstPosition + start, Uint32Array.from(tokens.slice(start, end)), Uint32Array.from(chunkOutputs)),
      ) as BatchLogitIndex[];
      await ctx.decodeBatch();
      if (chunkOutputs.length > 0) afterChunk?.(chunkOutputs.length);
    }
    return logitIndexes;
  }

  private resolve(spec: SteeringSpec | null | undefined): SteeringTensor | null {
    if (!spec || spec.terms.length === 0) return null;
    const tensor = resolveSteering(spec, this.model);
    if (tensor.isZero) return null;
    if (!this.capabilities.steering)
      throw new UnsupportedCapabilityError(
        ENGINE,
        `steer a ${this.model.architecture} model`,
        "llama.cpp adds no control vector in this architecture's graph",
      );
    return tensor;
  }

  private assertAlive(): void {
    if (this.isDisposed) throw new DisposedError(`${ENGINE} backend for ${this.model.name}`);
  }
}

async function createSlot(
  llama: Llama,
  model: LlamaModel,
  options: { contextSize: number; batchSize: number; threads: number; captureActivations: boolean; sequences?: number },
): Promise<ContextSlot> {
  const native = new (bindingsOf(llama).AddonContext)(nativeModelOf(model), {
    contextSize: options.contextSize,
    batchSize: options.batchSize,
    sequences: options.sequences ?? 1,
    threads: options.threads,
    // Flash attention changes the arithmetic; off keeps results comparable with llama.cpp's tools' defaults on CPU.
    flashAttention: false,
    captureActivations: options.captureActivations,
  });
  if (!(await native.init())) throw new Error(`llama.cpp could not create a context of ${options.contextSize} tokens for this model.`);
  return { native, installed: null, kept: null };
}

/**
 * How many leading tokens of a capture of `tokens` can come from the kept KV cache: their common
 * prefix, but never past the span (its rows must be computed to be captured) nor the last token
 * (a decode needs one), and none if the kept cache lacks layers this capture needs.
 */
function reusableTokens(kept: KeptSequence | null, tokens: readonly number[], spanStart: number, lastLayer: number): number {
  if (!kept || kept.throughLayer < lastLayer) return 0;
  const limit = Math.min(kept.tokens.length, spanStart, tokens.length - 1);
  let n = 0;
  while (n < limit && kept.tokens[n] === tokens[n]) n++;
  return n;
}

/**
 * Makes the context's control vector equal `vector` (null: none). Skips the call when the same
 * vector is installed already: each change makes llama.cpp re-reserve its scheduler.
 */
function installSteering(slot: ContextSlot, vector: ControlVector | null): void {
  if (sameControlVector(slot.installed, vector)) return;
  if (vector) slot.native.setControlVector(vector.rows, vector.from, vector.to);
  else slot.native.setControlVector(null);
  slot.installed = vector;
  slot.kept = null; // computed under the previous vector
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}
