import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  AbortedError,
  DisposedError,
  NotSteerableModelError,
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
  type GenerationSessionOptions,
  type ModelInfo,
  type ResidualCapture,
  type SteeringBackend,
  type SteeringSpec,
  TokenSampler,
} from "@emosteer/core";
import {
  GenerationText,
  logSoftmaxAt,
  steeringPhases,
  yieldToEventLoop,
  plainTextTokenizerJson,
  resolveCaptureLayers,
  checkPromptTokens,
  resolveGenerateOptions,
  tokenizeChatMessages,
} from "@emosteer/core/engine";
import {
  exportGgufToOnnx,
  GRAPH_IO,
  type EmosteerExportInfo,
  type ExportProgress,
  type Numerics,
  type Precision,
} from "@emosteer/onnx-export";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import * as ort from "onnxruntime-node";
import { CaptureBatcher } from "./capture-batch.js";
import { CaptureSession } from "./capture-session.js";
import { createGenerationSession, type OnnxGenerationSession, type SessionHost } from "./generation-session.js";
import { type CarriedState, openSessionRunner, type SessionRunner, type SessionThread } from "./session-worker.js";

const ENGINE = "onnx";

export interface OnnxBackendOptions {
  /** An exported model folder (from `@emosteer/onnx-export`). One of `modelDir` / `modelPath` is required. */
  readonly modelDir?: string;
  /** A GGUF file: exported on demand into the cache (reused when already there). */
  readonly modelPath?: string;
  /** Precision of the on-demand export. Defaults to `"fp32"`. Ignored with `modelDir`. */
  readonly precision?: Precision;
  /**
   * Numerics of the on-demand export (fp32 only). Defaults to `"exact"`; `"llama.cpp"` reproduces
   * llama.cpp's roundings, in a cache folder of its own. Ignored with `modelDir`.
   */
  readonly numerics?: Numerics;
  /** onnxruntime intra-op threads. Defaults to onnxruntime's choice (the physical cores). */
  readonly threads?: number;
  /** Let idle onnxruntime worker threads spin (faster on an otherwise idle machine). Defaults to false. */
  readonly spinning?: boolean;
  /**
   * Where session runs execute: `"worker"` (default), a worker thread of the backend's own, so the
   * caller's event loop stays free while the model computes; `"caller"`, on the calling thread
   * (onnxruntime-node's own way: each run blocks the event loop).
   */
  readonly sessionThread?: SessionThread;
  /** Jinja chat template used instead of the folder's `tokenizer_config.json` one (needed when it has none). */
  readonly chatTemplate?: string;
  /** Tokens one sequence may hold, prompt + generation. Defaults to min(4096, trained context), as on llama.cpp. */
  readonly contextSize?: number;
  readonly onProgress?: (progress: ExportProgress) => void;
  readonly signal?: AbortSignal;
}

/** The ONNX backend: the {@link SteeringBackend} contract plus raw logits (for parity checks). */
export interface OnnxSteeringBackend extends SteeringBackend {
  /** The exported folder in use. */
  readonly modelDir: string;
  readonly precision: Precision;
  /** The export's numerics (`"custom"`: a measurement export with its own rounding table). */
  readonly numerics: Numerics | "custom";
  /**
   * Forward pass over `tokens`; returns `tokens.length × vocabSize` logits (row p predicts token
   * p + 1).
   */
  logits(tokens: readonly number[], options?: LogitsOptions): Promise<Float32Array>;
  /**
   * A session on this loaded model that runs up to `parallelSequences` generations at once, each
   * with its own steering, batched into one session run per decode step. `generate` on the backend
   * itself keeps running each call alone (batch 1).
   */
  createSession(options?: GenerationSessionOptions): OnnxGenerationSession;
}

export interface LogitsOptions {
  readonly steering?: SteeringSpec | null;
  /**
   * Feed the tokens in chunks of this many through the KV cache (as generation does) instead of
   * one pass. Defaults to all tokens at once.
   */
  readonly chunkSize?: number;
  readonly signal?: AbortSignal;
}

/** Why a folder is refused: a silent unsteered run would be worse than an error. */
function notSteerable(modelDir: string): NotSteerableModelError {
  return new NotSteerableModelError(
    `${modelDir}/onnx/model.onnx`,
    `it has no "${GRAPH_IO.steering}" input. Export the GGUF with @emosteer/onnx-export (exportGgufToOnnx), which adds it, and load the folder it writes.`,
  );
}

interface HfConfig {
  readonly num_key_value_heads: number;
  readonly head_dim: number;
  readonly vocab_size: number;
  readonly emosteer?: EmosteerExportInfo;
}

/**
 * Creates a {@link SteeringBackend} on onnxruntime-node (CPU) over a steerable ONNX export.
 * Steering is an input of every run, so concurrent calls with different steering never mix.
 */
export async function createOnnxBackend(options: OnnxBackendOptions): Promise<OnnxSteeringBackend> {
  options.signal?.throwIfAborted();
  let modelDir = options.modelDir;
  if (!modelDir) {
    if (!options.modelPath)
      throw new TypeError("createOnnxBackend needs modelDir (an exported folder) or modelPath (a GGUF file to export).");
    const exported = await exportGgufToOnnx({
      ggufPath: options.modelPath,
      precision: options.precision ?? "fp32",
      numerics: options.numerics ?? "exact",
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    modelDir = exported.modelDir;
  }
  const config = JSON.parse(await readFile(join(modelDir, "config.json"), "utf8")) as HfConfig;
  const info = config.emosteer;
  if (!info) throw notSteerable(modelDir);
  const tokenizerJson: unknown = JSON.parse(await readFile(join(modelDir, "tokenizer.json"), "utf8"));
  const tokenizerConfig = JSON.parse(await readFile(join(modelDir, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: "all",
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
    // Spinning worker threads burn the cores they wait on; on a shared machine that starves the
    // very threads doing the work (decode slowed 10× here), so idle workers sleep instead.
    extra: { session: { intra_op: { allow_spinning: options.spinning ? "1" : "0" } } },
  };
  const openSession = (path: string) =>
    openSessionRunner(path, sessionOptions, { thread: options.sessionThread ?? "worker", what: `ONNX session of ${path}` });
  const session = await openSession(join(modelDir, "onnx", "model.onnx"));
  if (!session.inputNames.includes(GRAPH_IO.steering)) {
    await session.release();
    throw notSteerable(modelDir);
  }
  const withTemplate = options.chatTemplate ? { ...tokenizerConfig, chat_template: options.chatTemplate } : tokenizerConfig;
  const tokenizers = {
    special: new Tokenizer(tokenizerJson as object, withTemplate),
    plain: new Tokenizer(plainTextTokenizerJson(tokenizerJson as object), withTemplate),
  };
  const contextSize = options.contextSize ?? Math.min(4096, info.contextLength);
  if (!(Number.isSafeInteger(contextSize) && contextSize >= 2 && contextSize <= info.contextLength)) {
    await session.release();
    throw new InvalidArgumentError("contextSize", contextSize, `a whole number in 2..${info.contextLength} (the model's trained context)`);
  }
  const captureSession = new CaptureSession(modelDir, openSession, session);
  return new OnnxBackend(modelDir, session, captureSession, config, info, tokenizers, withTemplate, contextSize);
}

interface KvCache {
  readonly tensors: Record<string, ort.Tensor>;
  readonly length: number;
}

class OnnxBackend implements OnnxSteeringBackend {
  readonly name = ENGINE;
  readonly model: ModelInfo;
  readonly capabilities: BackendCapabilities;
  readonly precision: Precision;
  readonly numerics: Numerics | "custom";
  private readonly chatTemplate: Template | undefined;
  private readonly endOfGeneration: ReadonlySet<number>;
  private readonly zeroSteering: Float32Array;
  private readonly presentNames: string[];
  /** Each present output and the past input it feeds next step: the KV cache a generation keeps in the session's thread. */
  private readonly kvCarry: Record<string, string>;
  private generationCount = 0;
  private isDisposed = false;
  private readonly running = new Set<Promise<unknown>>();
  private captureBatcher: CaptureBatcher | undefined;

  constructor(
    readonly modelDir: string,
    private readonly session: SessionRunner,
    /** Where captures run (the graph without its LM head, capture-session.ts). */
    private readonly captureSession: CaptureSession,
    private readonly config: HfConfig,
    info: EmosteerExportInfo,
    /** `special` parses special-token markup; `plain` reads it as text (for message contents). */
    private readonly tokenizers: { readonly special: Tokenizer; readonly plain: Tokenizer },
    private readonly tokenizerConfig: Record<string, unknown>,
    readonly contextSize: number,
  ) {
    const chatTemplate = tokenizerConfig.chat_template;
    this.model = {
      architecture: info.architecture,
      name: info.name,
      layerCount: info.layerCount,
      hiddenSize: info.hiddenSize,
      vocabSize: config.vocab_size,
      contextLength: info.contextLength,
      fingerprint: info.fingerprint,
      ...(typeof chatTemplate === "string" ? { chatTemplate } : {}),
    };
    this.precision = info.precision;
    this.numerics = info.numerics ?? "exact";
    this.capabilities = {
      steering: true,
      capture: true,
      logProbs: true,
      seededSampling: true,
      parallelSequences: 4, // createSession's default (generation-session.ts)
      steerableLayers: { from: 1, to: info.layerCount - 1 },
    };
    this.chatTemplate = typeof chatTemplate === "string" ? new Template(chatTemplate) : undefined;
    this.endOfGeneration = new Set(info.eosTokenIds);
    this.zeroSteering = new Float32Array(info.layerCount * info.hiddenSize);
    this.presentNames = Array.from({ length: info.layerCount }, (_, i) => [GRAPH_IO.presentKey(i), GRAPH_IO.presentValue(i)]).flat();
    this.kvCarry = Object.fromEntries(
      Array.from({ length: info.layerCount }, (_, i) => [
        [GRAPH_IO.presentKey(i), GRAPH_IO.pastKey(i)],
        [GRAPH_IO.presentValue(i), GRAPH_IO.pastValue(i)],
      ]).flat(),
    );
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  createSession(options: GenerationSessionOptions = {}): OnnxGenerationSession {
    this.assertAlive();
    const disposed = () => this.isDisposed;
    const host: SessionHost = {
      model: this.model,
      contextSize: this.contextSize,
      vocabSize: this.config.vocab_size,
      kvHeads: this.config.num_key_value_heads,
      headDim: this.config.head_dim,
      endOfGeneration: this.endOfGeneration,
      get disposed() {
        return disposed();
      },
      promptTokens: (prompt) => this.promptTokensOf(prompt),
      phasedSteering: (o) => this.phasedSteering(o),
      decode: (tokens) => this.decode(tokens),
      run: async (feeds, fetches, transfer) => {
        this.assertAlive();
        const result = await this.session.run(feeds, fetches, { transfer: transfer ?? [] });
        this.assertAlive();
        return result;
      },
      track: (work) => this.track(work),
    };
    return createGenerationSession(host, options);
  }

  /** A prompt's tokens, checked against the context (the same refusals as generate). */
  private promptTokensOf(prompt: string | readonly ChatMessage[]): number[] {
    return checkPromptTokens(
      prompt,
      typeof prompt === "string" ? this.encode(prompt, true) : this.chatTokens(prompt, true),
      this.contextSize,
    );
  }

  /** The steering of a call's prompt pass and of its generated tokens (`apply`). */
  private phasedSteering(options: GenerateOptions): { readonly prompt: Float32Array; readonly generation: Float32Array } {
    const data = this.steeringData(options.steering);
    const phases = steeringPhases(options.steering);
    return { prompt: phases.prompt ? data : this.zeroSteering, generation: phases.generation ? data : this.zeroSteering };
  }

  formatChat(messages: readonly ChatMessage[], options: { readonly addGenerationPrompt?: boolean } = {}): string {
    this.assertAlive();
    if (!this.chatTemplate)
      throw new UnsupportedCapabilityError(ENGINE, "format chat", `${this.model.name} has no chat template; pass formatted text instead.`);
    const special = (key: string) => (typeof this.tokenizerConfig[key] === "string" ? (this.tokenizerConfig[key] as string) : "");
    return this.chatTemplate.render({
      messages: messages.map(({ role, content }) => ({ role, content })),
      add_generation_prompt: options.addGenerationPrompt ?? true,
      bos_token: special("bos_token"),
      eos_token: special("eos_token"),
    });
  }

  async tokenize(text: string, options: { readonly special?: boolean } = {}): Promise<number[]> {
    this.assertAlive();
    return this.encode(text, options.special ?? true);
  }

  async tokenizeChat(messages: readonly ChatMessage[], options: { readonly addGenerationPrompt?: boolean } = {}): Promise<number[]> {
    this.assertAlive();
    return this.chatTokens(messages, options.addGenerationPrompt ?? true);
  }

  private encode(text: string, special: boolean): number[] {
    return (special ? this.tokenizers.special : this.tokenizers.plain).encode(text, { add_special_tokens: false }).ids;
  }

  private chatTokens(messages: readonly ChatMessage[], addGenerationPrompt: boolean): number[] {
    return tokenizeChatMessages(
      { render: (m, add) => this.formatChat(m, { addGenerationPrompt: add }), tokenize: (text, special) => this.encode(text, special) },
      messages,
      addGenerationPrompt,
    );
  }

  async detokenize(tokens: readonly number[]): Promise<string> {
    this.assertAlive();
    return this.decode(tokens);
  }

  /** Text of `tokens` (the tokenizer rejects an empty list). */
  private decode(tokens: readonly number[]): string {
    return tokens.length === 0 ? "" : this.tokenizers.special.decode([...tokens], { skip_special_tokens: false });
  }

  async logits(tokens: readonly number[], options: LogitsOptions = {}): Promise<Float32Array> {
    this.assertAlive();
    if (tokens.length === 0) throw new InvalidArgumentError("tokens", "[]", "at least one token");
    if (tokens.length > this.contextSize) throw new ContextOverflowError("Sequence", tokens.length, this.contextSize);
    return this.track(() => this.logitsOf(tokens, options));
  }

  private async logitsOf(tokens: readonly number[], options: LogitsOptions): Promise<Float32Array> {
    const steering = this.steeringData(options.steering);
    const chunk = options.chunkSize ?? tokens.length;
    if (!(Number.isInteger(chunk) && chunk >= 1)) throw new RangeError(`chunkSize must be a positive integer, got ${chunk}`);
    const V = this.config.vocab_size;
    const out = new Float32Array(tokens.length * V);
    let cache: KvCache | null = null;
    for (let start = 0; start < tokens.length; start += chunk) {
      if (options.signal?.aborted) throw new AbortedError("ONNX logits");
      const part = tokens.slice(start, start + chunk);
      const last = start + chunk >= tokens.length;
      const result = await this.forward(part, cache, steering, last ? [GRAPH_IO.logits] : [GRAPH_IO.logits, ...this.presentNames]);
      out.set(result[GRAPH_IO.logits]!.data as Float32Array, start * V);
      if (!last) cache = this.cacheFrom(result, start + part.length);
    }
    return out;
  }

  async captureResiduals(request: CaptureRequest): Promise<ResidualCapture> {
    this.assertAlive();
    const { tokens, spanStart, spanEnd } = request;
    const layers = resolveCaptureLayers(request, this.model, this.contextSize);
    const steering = this.steeringData(request.steering);
    if (request.signal?.aborted) throw new AbortedError("captureResiduals");
    // Captures run on the graph without the LM head (onnxruntime runs every node of a graph,
    // whatever a run fetches; capture-session.ts) and fetch only the requested hidden states.
    // Captures requested together share the evaluation of their common prefix (capture-batch.ts).
    this.captureBatcher ??= new CaptureBatcher({
      layerCount: this.model.layerCount,
      hiddenSize: this.model.hiddenSize,
      kvHeads: this.config.num_key_value_heads,
      headDim: this.config.head_dim,
      assertAlive: () => this.assertAlive(),
      run: (feeds, fetches, transfer) => this.captureSession.run(feeds, fetches, { transfer }),
      track: (work) => this.track(work),
    });
    const batcher = this.captureBatcher;
    const data = await new Promise<Float32Array[]>((resolve, reject) =>
      batcher.add({ tokens: tokens.slice(0, spanEnd), spanStart, layers, steering, signal: request.signal, resolve, reject }),
    );
    return { layers: [...layers], positions: spanEnd - spanStart, hiddenSize: this.model.hiddenSize, data };
  }

  async generate(prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): Promise<Generation> {
    this.assertAlive();
    const started = performance.now();
    const resolved = resolveGenerateOptions(options);
    const promptTokens = this.promptTokensOf(prompt);
    // Per phase (apply: "prompt" | "generation" | "both"): the prompt pass, then the generated tokens.
    const steering = this.phasedSteering(options);
    const sampler = new TokenSampler(resolved);
    const what = "ONNX generation";
    if (options.signal?.aborted) throw new AbortedError(what);
    return this.track(() => this.generateTokens(promptTokens, steering, sampler, resolved, options, started, what));
  }

  private async generateTokens(
    promptTokens: readonly number[],
    steering: { readonly prompt: Float32Array; readonly generation: Float32Array },
    sampler: TokenSampler,
    { maxTokens, stop }: { readonly maxTokens: number; readonly stop: readonly string[] },
    { signal, onToken }: GenerateOptions,
    started: number,
    what: string,
  ): Promise<Generation> {
    // Let the caller's synchronous code and due timers run first: an abort that comes before the
    // prompt pass starts must keep it from starting (as a queued call on the other engines).
    await yieldToEventLoop({ timers: true });
    this.assertAlive();
    if (signal?.aborted) throw new AbortedError(what);
    const V = this.config.vocab_size;
    const generated: number[] = [];
    const text = new GenerationText(stop);
    let finishReason: Generation["finishReason"] = "length";
    let promptMs = 0;
    let firstTokenMs = 0;
    // The KV cache stays in the session's thread from step to step (RunOptions.state): only the
    // step's token and logits cross, so the caller's heap sees no 14 MB of fresh buffers a token.
    const state = { key: `generation-${++this.generationCount}`, carry: this.kvCarry };
    let past = 0;
    let input: readonly number[] = promptTokens;
    let decodeStart = started;
    try {
      for (;;) {
        const result = await this.forwardCarried(input, past, past > 0 ? steering.generation : steering.prompt, state);
        past += input.length;
        const all = result[GRAPH_IO.logits]!.data as Float32Array;
        const last = all.subarray((input.length - 1) * V, input.length * V);
        if (generated.length === 0) {
          promptMs = performance.now() - started;
          decodeStart = performance.now();
          // onnxruntime runs the prompt pass without looking at the signal: an abort during it rejects now, before any token.
          await yieldToEventLoop({ timers: true });
          this.assertAlive();
          if (signal?.aborted) throw new AbortedError(what);
        }
        const token = sampler.sample(last);
        if (this.endOfGeneration.has(token)) {
          finishReason = "stop";
          break;
        }
        generated.push(token);
        if (generated.length === 1) firstTokenMs = performance.now() - started;
        // Updated whether or not anyone streams: it also finds the stop strings.
        const piece = text.update(this.decode(generated));
        onToken?.({ token, text: piece });
        if (text.stopped) {
          finishReason = "stop";
          break;
        }
        if (generated.length >= maxTokens || promptTokens.length + generated.length >= this.contextSize) break; // "length"
        await yieldToEventLoop(); // so that an abort from a socket or timer is seen between tokens
        this.assertAlive();
        if (signal?.aborted) {
          finishReason = "abort";
          break;
        }
        input = [token];
      }
    } finally {
      // A disposed backend has released the session and every state with it.
      if (!this.isDisposed) await this.session.dropState(state.key).catch(() => {});
    }
    const rest = text.finish();
    if (rest) onToken?.({ token: -1, text: rest });
    return {
      text: text.text,
      tokens: generated,
      finishReason,
      timings: {
        promptTokens: promptTokens.length,
        generatedTokens: generated.length,
        promptMs,
        decodeMs: performance.now() - decodeStart,
        firstTokenMs,
      },
    };
  }

  async scoreContinuation(
    prompt: string,
    continuation: string,
    options: { readonly steering?: SteeringSpec | null; readonly signal?: AbortSignal } = {},
  ): Promise<ContinuationScore> {
    this.assertAlive();
    const promptTokens = await this.tokenize(prompt);
    const continuationTokens = await this.tokenize(continuation);
    if (promptTokens.length === 0)
      throw new InvalidArgumentError(
        "prompt",
        prompt,
        "text that tokenizes to at least one token (the first continuation token is predicted from it)",
      );
    const tokens = [...promptTokens, ...continuationTokens];
    if (tokens.length > this.contextSize) throw new ContextOverflowError("Prompt + continuation", tokens.length, this.contextSize);
    const logits = await this.logits(tokens.slice(0, -1), options);
    const V = this.config.vocab_size;
    const logProbs = new Float32Array(continuationTokens.length);
    let total = 0;
    continuationTokens.forEach((token, i) => {
      logProbs[i] = logSoftmaxAt(logits, (promptTokens.length - 1 + i) * V, V, token);
      total += logProbs[i]!;
    });
    return { tokens: continuationTokens, logProbs, total };
  }

  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    this.isDisposed = true;
    // Running calls stop with DisposedError at their next session run; the session is released
    // only once none is inside one (releasing under a running session would crash onnxruntime).
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    await this.captureSession.release();
    await this.session.release();
  }

  /** Runs `work` counted as in flight, so dispose() waits for it. */
  private track<T>(work: () => Promise<T>): Promise<T> {
    const promise = work();
    this.running.add(promise);
    const forget = () => this.running.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /** One session run of `tokens` after `cache` (batch 1). */
  private async forward(
    tokens: readonly number[],
    cache: KvCache | null,
    steering: Float32Array,
    fetches: readonly string[],
  ): Promise<ort.InferenceSession.ReturnType> {
    this.assertAlive();
    const feeds = this.rowFeeds(tokens, cache?.length ?? 0, steering, cache ? cache.tensors : this.emptyCache());
    // Everything but the steering table (the caller's, reused every step) moves to the session's
    // thread: the inputs are new and the past cache is not read again.
    const transfer = Object.keys(feeds).filter((name) => name !== GRAPH_IO.steering);
    const result = await this.session.run(feeds, fetches, { transfer });
    this.assertAlive();
    return result;
  }

  /** The feeds of one batch-1 run of `tokens` after `past` tokens, with `pastKv` as the past KV inputs. */
  private rowFeeds(
    tokens: readonly number[],
    past: number,
    steering: Float32Array,
    pastKv: Record<string, ort.Tensor>,
  ): Record<string, ort.Tensor> {
    const S = tokens.length;
    const { layerCount: L, hiddenSize: H } = this.model;
    return {
      [GRAPH_IO.inputIds]: new ort.Tensor("int64", BigInt64Array.from(tokens, BigInt), [1, S]),
      [GRAPH_IO.attentionMask]: new ort.Tensor("int64", new BigInt64Array(past + S).fill(1n), [1, past + S]),
      [GRAPH_IO.positionIds]: new ort.Tensor(
        "int64",
        BigInt64Array.from({ length: S }, (_, i) => BigInt(past + i)),
        [1, S],
      ),
      [GRAPH_IO.steering]: new ort.Tensor("float32", steering, [1, L, H]),
      ...pastKv,
    };
  }

  /**
   * One session run of `tokens` after the `past` tokens whose KV cache `state` keeps in the
   * session's thread (none before the first run): returns the logits only.
   */
  private async forwardCarried(
    tokens: readonly number[],
    past: number,
    steering: Float32Array,
    state: CarriedState,
  ): Promise<ort.InferenceSession.ReturnType> {
    this.assertAlive();
    // The past KV cache, if any, is the carried state the session's thread adds itself.
    const feeds = this.rowFeeds(tokens, past, steering, past === 0 ? this.emptyCache() : {});
    const transfer = Object.keys(feeds).filter((name) => name !== GRAPH_IO.steering);
    const result = await this.session.run(feeds, [GRAPH_IO.logits, ...this.presentNames], { transfer, state });
    this.assertAlive();
    return result;
  }

  private emptyCache(): Record<string, ort.Tensor> {
    const shape = [1, this.config.num_key_value_heads, 0, this.config.head_dim];
    const tensors: Record<string, ort.Tensor> = {};
    for (let i = 0; i < this.model.layerCount; i++) {
      tensors[GRAPH_IO.pastKey(i)] = new ort.Tensor("float32", new Float32Array(0), shape);
      tensors[GRAPH_IO.pastValue(i)] = new ort.Tensor("float32", new Float32Array(0), shape);
    }
    return tensors;
  }

  private cacheFrom(result: ort.InferenceSession.ReturnType, length: number): KvCache {
    const tensors: Record<string, ort.Tensor> = {};
    for (let i = 0; i < this.model.layerCount; i++) {
      tensors[GRAPH_IO.pastKey(i)] = result[GRAPH_IO.presentKey(i)]!;
      tensors[GRAPH_IO.pastValue(i)] = result[GRAPH_IO.presentValue(i)]!;
    }
    return { tensors, length };
  }

  private steeringData(spec: SteeringSpec | null | undefined): Float32Array {
    if (!spec || spec.terms.length === 0) return this.zeroSteering;
    return resolveSteering(spec, this.model).data;
  }

  private assertAlive(): void {
    if (this.isDisposed) throw new DisposedError(`ONNX backend for ${this.model.name}`);
  }
}
