import { Tensor, type DeviceType, type Message, type PreTrainedTokenizer } from "@huggingface/transformers";
import {
  AbortedError,
  DisposedError,
  HiddenSizeMismatchError,
  InvalidSteeringError,
  LayerCountMismatchError,
  UnsupportedCapabilityError,
  ContextOverflowError,
  InvalidArgumentError,
  resolveSteering,
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
  logSoftmaxAt,
  plainTextTokenizerJson,
  steeringPhases,
  resolveCaptureLayers,
  checkPromptTokens,
  resolveGenerateOptions,
  tokenizeChatMessages,
} from "@emosteer/core/engine";
import { GenerationStop, GenerationTracker, now } from "./generation-hooks.js";
import { createGenerationSession, type SessionHost } from "./generation-session.js";
import { modelInfoFromConfig } from "./model-info.js";
import type { SessionModelSource, SessionModelWorker, SessionThread } from "./session-model-worker.js";
import { HIDDEN_STATE_PREFIX, loadSteerableModel, STEERING_INPUT, type Precision, type SteerableModel } from "./steerable-model.js";
import { SeededTokenSampler } from "./token-sampler.js";

export type { Precision } from "./steerable-model.js";
export type { SessionThread } from "./session-model-worker.js";

interface CommonOptions {
  /**
   * Hub models: which ONNX file to load, `"fp32"` (onnx/model.onnx) or `"q4"` (onnx/model_q4.onnx);
   * defaults to `"fp32"`. Exported folders hold a single precision (the exporter writes one folder
   * per precision): when given, it must match the one the folder's config.json records.
   */
  readonly precision?: Precision;
  /** transformers.js device. Defaults to transformers.js's choice: `"cpu"` in Node, `"wasm"` in browsers. */
  readonly device?: DeviceType;
  /** Accept steering vectors whose fingerprint differs from the model's. Defaults to false. */
  readonly allowFingerprintMismatch?: boolean;
  /** Jinja chat template used instead of the tokenizer's own (needed when the folder has none). */
  readonly chatTemplate?: string;
  /** Tokens one sequence may hold, prompt + generation. Defaults to min(4096, trained context), as on llama.cpp. */
  readonly contextSize?: number;
  /**
   * Download / read progress of the model files. In browsers, leave it unset for a local folder:
   * to size the files up front, transformers.js then fetches each of them one extra time.
   */
  readonly onProgress?: (progress: { readonly file: string; readonly loaded: number; readonly total: number }) => void;
  readonly signal?: AbortSignal;
  /**
   * Where sessions (`createSession`) run their forward passes. `"worker"`, the default in Node: in
   * a worker thread holding its own copy of the model (loaded at the first `createSession`, so
   * the weights are in memory twice once sessions are used), so a step never blocks the caller's
   * event loop: a server keeps answering sockets, streaming and seeing aborts while the model
   * computes. `"caller"`, the default elsewhere (browsers): on the calling thread, each pass
   * blocking its event loop. `generate`, `logits` and captures always run on the calling thread.
   */
  readonly sessionThread?: SessionThread;
}

export interface LocalModelOptions extends CommonOptions {
  /**
   * Folder written by emosteer's ONNX exporter (config.json, tokenizer files, onnx/model*.onnx):
   * an absolute file-system path in Node, a URL path (e.g. `/models/smollm2`) in browsers.
   */
  readonly modelDir: string;
}

export interface HubModelOptions extends CommonOptions {
  /** A Hugging Face hub repository whose ONNX graph has a `steering` input. Needs network access. */
  readonly hubId: string;
}

export type TransformersBackendOptions = LocalModelOptions | HubModelOptions;

/** The transformers.js engine: a {@link SteeringBackend} plus raw logits (for cross-engine parity checks). */
export interface TransformersSteeringBackend extends SteeringBackend {
  /**
   * Next-token logits at every position of one teacher-forced pass over `tokens` (from an empty
   * cache): `tokens.length × vocabSize` floats, row-major, as the ONNX backend's `logits`.
   */
  logits(
    tokens: readonly number[],
    options?: { readonly steering?: SteeringSpec | null; readonly signal?: AbortSignal },
  ): Promise<Float32Array>;
  /**
   * A session on this loaded model that runs up to `parallelSequences` generations at once
   * (default 4), each with its own steering, decoded together in one forward pass per step
   * (core's `GenerationSession`; the graph's `steering` input takes one table per batch row).
   * `generate` stays batch 1.
   */
  createSession(options?: GenerationSessionOptions): GenerationSession;
}

const ENGINE = "transformers.js";

/**
 * A {@link SteeringBackend} on @huggingface/transformers, for Node and browsers. Throws
 * `NotSteerableModelError` when the model's graph has no `steering` input, so a model can never
 * generate unsteered by accident.
 */
export async function createTransformersBackend(options: TransformersBackendOptions): Promise<TransformersSteeringBackend> {
  const fromHub = "hubId" in options;
  const source = fromHub ? options.hubId : absoluteModelDir(options.modelDir);
  const loaded = await loadSteerableModel({
    source,
    fromHub,
    ...(options.precision ? { precision: options.precision } : {}),
    ...(options.device ? { device: options.device } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const tokenizer = loaded.tokenizer as unknown as { chat_template: unknown };
  // apply_chat_template reads the tokenizer's own field, so an override goes there.
  if (options.chatTemplate) tokenizer.chat_template = options.chatTemplate;
  const chatTemplate = tokenizer.chat_template;
  const model = modelInfoFromConfig(
    loaded.model.config as unknown as Record<string, unknown>,
    source,
    typeof chatTemplate === "string" ? chatTemplate : null,
  );
  const contextSize = options.contextSize ?? Math.min(4096, model.contextLength);
  if (!(Number.isSafeInteger(contextSize) && contextSize >= 2 && contextSize <= model.contextLength)) {
    await loaded.model.dispose();
    throw new InvalidArgumentError("contextSize", contextSize, `a whole number in 2..${model.contextLength} (the model's trained context)`);
  }
  const sessionThread = options.sessionThread ?? (typeof process !== "undefined" && process.versions?.node ? "worker" : "caller");
  const sessionSource: SessionModelSource = {
    source,
    fromHub,
    ...(fromHub ? { dtype: options.precision ?? "fp32" } : {}),
    ...(options.device ? { device: options.device } : {}),
  };
  return new TransformersBackend(
    loaded,
    model,
    options.allowFingerprintMismatch ?? false,
    contextSize,
    sessionThread === "worker" ? sessionSource : null,
  );
}

/** transformers.js reads a path that is not a hub id as it is; make a relative Node path absolute so it never looks like one. */
function absoluteModelDir(dir: string): string {
  const trimmed = dir.replace(/\/+$/, "");
  if (trimmed.startsWith("/") || /^[a-z]+:/i.test(trimmed)) return trimmed;
  const cwd = typeof process !== "undefined" && typeof process.cwd === "function" ? process.cwd() : "";
  return cwd ? `${cwd}/${trimmed}` : `/${trimmed}`;
}

class TransformersBackend implements TransformersSteeringBackend {
  readonly name = ENGINE;
  readonly capabilities: BackendCapabilities;
  private isDisposed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly endTokens: ReadonlySet<number>;
  /** The model's tokenizer without special added tokens: message contents are tokenized with it. */
  private readonly plainTokenizer: PreTrainedTokenizer;
  /** The sessions' model in a worker thread, loaded at the first createSession (sessionThread "worker"). */
  private sessionModel: Promise<SessionModelWorker> | null = null;

  constructor(
    private readonly loaded: SteerableModel,
    readonly model: ModelInfo,
    private readonly allowFingerprintMismatch: boolean,
    readonly contextSize: number,
    /** Where the session worker loads the model from; null: sessions run on the calling thread. */
    private readonly sessionSource: SessionModelSource | null,
  ) {
    this.capabilities = {
      steering: true,
      capture: loaded.hiddenStateLayers.length > 0,
      logProbs: true,
      seededSampling: true,
      parallelSequences: 4, // createSession's default (generation-session.ts)
      steerableLayers: { from: 1, to: model.layerCount - 1 },
    };
    this.endTokens = endOfGenerationTokens(loaded);
    this.plainTokenizer = plainTextTokenizer(loaded.tokenizer);
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  formatChat(messages: readonly ChatMessage[], options: { readonly addGenerationPrompt?: boolean } = {}): string {
    this.assertLive();
    return this.loaded.tokenizer.apply_chat_template(messages.map((m) => ({ role: m.role, content: m.content })) as Message[], {
      tokenize: false,
      add_generation_prompt: options.addGenerationPrompt ?? true,
    }) as string;
  }

  async tokenize(text: string, options: { readonly special?: boolean } = {}): Promise<number[]> {
    this.assertLive();
    return this.encode(text, options.special ?? true);
  }

  async tokenizeChat(messages: readonly ChatMessage[], options: { readonly addGenerationPrompt?: boolean } = {}): Promise<number[]> {
    this.assertLive();
    return this.chatTokens(messages, options.addGenerationPrompt ?? true);
  }

  private chatTokens(messages: readonly ChatMessage[], addGenerationPrompt: boolean): number[] {
    return tokenizeChatMessages(
      { render: (m, add) => this.formatChat(m, { addGenerationPrompt: add }), tokenize: (text, special) => this.encode(text, special) },
      messages,
      addGenerationPrompt,
    );
  }

  async detokenize(tokens: readonly number[]): Promise<string> {
    this.assertLive();
    return this.decode(tokens);
  }

  async logits(
    tokens: readonly number[],
    options: { readonly steering?: SteeringSpec | null; readonly signal?: AbortSignal } = {},
  ): Promise<Float32Array> {
    this.assertLive();
    if (tokens.length === 0) throw new InvalidArgumentError("tokens", "[]", "at least one token");
    if (tokens.length > this.contextSize) throw new ContextOverflowError("Sequence", tokens.length, this.contextSize);
    const steering = this.steeringInput(options.steering);
    return this.exclusive(options.signal, "Logits", async () => {
      const outputs = await this.loaded.outputs.only(["logits"], () => this.forward(tokens, steering));
      return (outputs["logits"]!.data as Float32Array).slice();
    });
  }

  async captureResiduals(request: CaptureRequest): Promise<ResidualCapture> {
    this.assertLive();
    if (!this.capabilities.capture) {
      throw new UnsupportedCapabilityError(
        ENGINE,
        "capture residuals",
        "the graph has no hidden_states.* outputs; re-export the model with emosteer's exporter",
      );
    }
    const { tokens, spanStart, spanEnd } = request;
    const available = this.loaded.hiddenStateLayers;
    const layers = resolveCaptureLayers(request, this.model, this.contextSize);
    for (const layer of layers) {
      if (!available.includes(layer))
        throw new InvalidArgumentError(
          "layer",
          layer,
          `one of the layers the graph outputs (${available[0] ?? 0}..${available.at(-1) ?? 0})`,
        );
    }
    const steering = this.steeringInput(request.steering);
    return this.exclusive(request.signal, "Residual capture", async () => {
      const outputs = await this.loaded.outputs.only(
        layers.map((layer) => `${HIDDEN_STATE_PREFIX}${layer}`),
        () => this.forward(tokens, steering),
      );
      const { hiddenSize } = this.model;
      const positions = spanEnd - spanStart;
      const data = layers.map((layer) => {
        const hidden = outputs[`${HIDDEN_STATE_PREFIX}${layer}`]!.data as Float32Array;
        return hidden.slice(spanStart * hiddenSize, spanEnd * hiddenSize);
      });
      return { layers, positions, hiddenSize, data };
    });
  }

  async generate(prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): Promise<Generation> {
    this.assertLive();
    const called = now();
    const resolved = resolveGenerateOptions(options);
    const promptTokens = this.promptTokensOf(prompt);
    const steering = this.steeringInput(options.steering);
    const phases = steeringPhases(options.steering);
    const phased =
      phases.prompt === phases.generation
        ? null
        : {
            prompt: phases.prompt ? steering : this.steeringInput(null),
            generation: phases.generation ? steering : this.steeringInput(null),
          };
    const { signal } = options;
    const what = "transformers.js generation";
    if (signal?.aborted) throw new AbortedError(what);
    return this.exclusive(signal, what, async () => {
      const tracker = new GenerationTracker(this.loaded.tokenizer, this.endTokens, resolved.stop, signal, options.onToken);
      const sampler = resolved.temperature > 0 ? [new SeededTokenSampler(resolved)] : null;
      // The context bounds the generation as maxTokens does (finishReason "length").
      const maxNewTokens = Math.min(resolved.maxTokens, this.contextSize - promptTokens.length);
      const started = now();
      this.loaded.phasedSteering = phased && { ...phased, runs: 0 };
      await this.loaded.model
        .generate({
          inputs: new Tensor("int64", BigInt64Array.from(promptTokens, BigInt), [1, promptTokens.length]),
          attention_mask: new Tensor("int64", new BigInt64Array(promptTokens.length).fill(1n), [1, promptTokens.length]),
          [STEERING_INPUT]: steering,
          max_new_tokens: maxNewTokens,
          eos_token_id: [...this.endTokens],
          // Plain greedy selection: nothing from generation_config.json may reshape the logits.
          do_sample: false,
          num_beams: 1,
          repetition_penalty: 1,
          no_repeat_ngram_size: 0,
          min_length: 0,
          min_new_tokens: null,
          bad_words_ids: null,
          suppress_tokens: null,
          begin_suppress_tokens: null,
          forced_bos_token_id: null,
          forced_eos_token_id: null,
          logits_processor: sampler,
          stopping_criteria: new GenerationStop(tracker, signal, () => this.isDisposed),
          streamer: tracker,
        } as unknown as Parameters<SteerableModel["model"]["generate"]>[0])
        .finally(() => (this.loaded.phasedSteering = null));
      this.assertLive();
      if (tracker.abortedBeforeFirstToken) throw new AbortedError(what);
      tracker.release();
      const first = tracker.firstTokenAt ?? now();
      const last = tracker.lastTokenAt ?? first;
      const stopped = tracker.sawEndToken || tracker.generation.stopped;
      const finishReason = stopped ? "stop" : signal?.aborted && tracker.tokens.length < maxNewTokens ? "abort" : "length";
      return {
        text: tracker.generation.text,
        tokens: tracker.tokens,
        finishReason,
        timings: {
          promptTokens: promptTokens.length,
          generatedTokens: tracker.tokens.length,
          promptMs: first - started,
          decodeMs: last - first,
          firstTokenMs: first - called,
        },
      };
    });
  }

  async scoreContinuation(
    prompt: string,
    continuation: string,
    options: { readonly steering?: SteeringSpec | null; readonly signal?: AbortSignal } = {},
  ): Promise<ContinuationScore> {
    this.assertLive();
    const steering = this.steeringInput(options.steering);
    return this.exclusive(options.signal, "Scoring", async () => {
      const promptTokens = this.encode(prompt);
      if (promptTokens.length === 0)
        throw new InvalidArgumentError(
          "prompt",
          prompt,
          "text that tokenizes to at least one token (the first continuation token is predicted from it)",
        );
      const tokens = this.encode(continuation);
      const all = [...promptTokens, ...tokens];
      if (all.length > this.contextSize) throw new ContextOverflowError("Prompt + continuation", all.length, this.contextSize);
      const outputs = await this.loaded.outputs.only(["logits"], () => this.forward(all, steering));
      const logits = outputs["logits"]!.data as Float32Array;
      const vocab = logits.length / all.length;
      const logProbs = new Float32Array(tokens.length);
      let total = 0;
      tokens.forEach((token, j) => {
        logProbs[j] = logSoftmaxAt(logits, (promptTokens.length - 1 + j) * vocab, vocab, token);
        total += logProbs[j]!;
      });
      return { tokens, logProbs, total };
    });
  }

  createSession(options: GenerationSessionOptions = {}): GenerationSession {
    this.assertLive();
    const disposed = () => this.isDisposed;
    const config = this.loaded.model.config as unknown as Record<string, unknown>;
    const kvHeads = numberField(config, "num_key_value_heads") ?? numberField(config, "num_attention_heads");
    const headDim = numberField(config, "head_dim") ?? this.model.hiddenSize / (numberField(config, "num_attention_heads") ?? Number.NaN);
    if (!(kvHeads && Number.isInteger(headDim)))
      throw new UnsupportedCapabilityError(
        ENGINE,
        "create a session",
        "config.json gives no num_key_value_heads / head_dim (or num_attention_heads) to shape the batch's KV cache; load a folder emosteer's exporter wrote",
      );
    const host: SessionHost = {
      model: this.model,
      contextSize: this.contextSize,
      kvHeads,
      headDim,
      endOfGeneration: this.endTokens,
      get disposed() {
        return disposed();
      },
      promptTokens: (prompt) => this.promptTokensOf(prompt),
      phasedSteering: (o) => {
        const data = this.steeringInput(o.steering).data as Float32Array;
        const zero = this.steeringInput(null).data as Float32Array;
        const phases = steeringPhases(o.steering);
        return { prompt: phases.prompt ? data : zero, generation: phases.generation ? data : zero };
      },
      decode: (tokens) => this.decode(tokens),
      forward: this.sessionForward(),
    };
    return createGenerationSession(host, options);
  }

  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    this.isDisposed = true;
    // Let a running call finish before its session goes away; a session step in the worker rejects with DisposedError.
    await this.queue.catch(() => undefined);
    await this.sessionModel?.then((worker) => worker.dispose()).catch(() => undefined);
    await this.loaded.model.dispose();
  }

  /**
   * A session's forward pass: in the session worker (started here on the first session, loading
   * while the caller prepares its first request), or on this thread taking its turn with the
   * backend's own calls (they share the output selection and the phased steering).
   */
  private sessionForward(): SessionHost["forward"] {
    const from = this.sessionSource;
    if (!from)
      return (inputs) =>
        this.exclusive(
          undefined,
          "transformers.js session run",
          async () => (await this.loaded.model.forward(inputs)) as Record<string, Tensor>,
        );
    // A module name in a variable: browser bundlers leave it alone (Node only: worker_threads).
    const workerModule = "./session-model-worker.js";
    this.sessionModel ??= (import(/* @vite-ignore */ workerModule) as Promise<typeof import("./session-model-worker.js")>).then((m) =>
      m.openSessionModelWorker(from, `transformers.js session worker for ${this.model.name}`),
    );
    const model = this.sessionModel;
    // A failed load is reported by the first forward pass, not as an unhandled rejection.
    model.catch(() => undefined);
    return async (inputs, transfer) => (await model).forward(inputs, transfer);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /** One teacher-forced pass over `tokens` from an empty cache. */
  private async forward(tokens: readonly number[], steering: Tensor): Promise<Record<string, Tensor>> {
    const length = tokens.length;
    return (await this.loaded.model.forward({
      input_ids: new Tensor("int64", BigInt64Array.from(tokens, BigInt), [1, length]),
      attention_mask: new Tensor("int64", new BigInt64Array(length).fill(1n), [1, length]),
      [STEERING_INPUT]: steering,
    })) as Record<string, Tensor>;
  }

  private steeringInput(spec: SteeringSpec | null | undefined): Tensor {
    const { layerCount, hiddenSize } = this.model;
    const tensor: SteeringTensor =
      spec && spec.terms.length > 0
        ? resolveSteering(spec, this.model, { allowFingerprintMismatch: this.allowFingerprintMismatch })
        : { layerCount, hiddenSize, data: new Float32Array(layerCount * hiddenSize), isZero: true };
    if (tensor.hiddenSize !== hiddenSize) throw new HiddenSizeMismatchError(hiddenSize, tensor.hiddenSize, "Steering tensor");
    if (tensor.layerCount !== layerCount) throw new LayerCountMismatchError(layerCount, tensor.layerCount, "Steering tensor");
    if (tensor.data.subarray(0, hiddenSize).some((x) => x !== 0))
      throw new InvalidSteeringError("layers", "row 0 is not zero; block 0 is never steered.");
    // The graph takes one table per batch row ([batch, layers, hidden]); generation here is batch 1.
    return new Tensor("float32", tensor.data, [1, layerCount, hiddenSize]);
  }

  /** A prompt's tokens, checked against the context (the same refusals in generate and in sessions). */
  private promptTokensOf(prompt: string | readonly ChatMessage[]): number[] {
    return checkPromptTokens(
      prompt,
      typeof prompt === "string" ? this.encode(prompt, true) : this.chatTokens(prompt, true),
      this.contextSize,
    );
  }

  private encode(text: string, special = true): number[] {
    return Array.from((special ? this.loaded.tokenizer : this.plainTokenizer).encode(text, { add_special_tokens: false }), Number);
  }

  private decode(tokens: readonly number[]): string {
    return this.loaded.tokenizer.decode([...tokens], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  /**
   * Runs calls one at a time: the output selection and the runtime's session are shared. A call
   * whose signal aborts while it waits rejects at once with AbortedError and never runs.
   */
  private exclusive<T>(signal: AbortSignal | undefined, what: string, work: () => Promise<T>): Promise<T> {
    let cancel: (() => void) | undefined;
    const result = this.queue.then(() => {
      if (cancel) signal?.removeEventListener("abort", cancel);
      this.assertLive();
      if (signal?.aborted) throw new AbortedError(what);
      return work();
    });
    this.queue = result.catch(() => undefined);
    if (!signal) return result;
    return new Promise<T>((resolve, reject) => {
      cancel = () => reject(new AbortedError(what));
      signal.addEventListener("abort", cancel, { once: true });
      result.then(resolve, reject);
    });
  }

  private assertLive(): void {
    if (this.isDisposed) throw new DisposedError(`${ENGINE} backend`);
  }
}

/** Tokens that end generation: the EOS ids of config.json (and its `emosteer` block) and generation_config.json. */
function endOfGenerationTokens(loaded: SteerableModel): ReadonlySet<number> {
  const ids = new Set<number>();
  const add = (value: unknown) => {
    if (typeof value === "number") ids.add(value);
    else if (Array.isArray(value)) value.forEach(add);
  };
  const config = loaded.model.config as unknown as Record<string, unknown>;
  add(config["eos_token_id"]);
  add((config["emosteer"] as Record<string, unknown> | undefined)?.["eosTokenIds"]);
  add((loaded.model.generation_config as unknown as Record<string, unknown> | null)?.["eos_token_id"]);
  return ids;
}

/** A tokenizer like `tokenizer` that reads special-token markup as text (transformers.js has no switch for it). */
function plainTextTokenizer(tokenizer: PreTrainedTokenizer): PreTrainedTokenizer {
  const { _tokenizerJSON: json, _tokenizerConfig: config } = tokenizer as unknown as { _tokenizerJSON: object; _tokenizerConfig: object };
  const Class = tokenizer.constructor as new (json: object, config: object) => PreTrainedTokenizer;
  return new Class(plainTextTokenizerJson(json), config);
}

function numberField(config: Record<string, unknown>, key: string): number | undefined {
  const value = config[key];
  return typeof value === "number" ? value : undefined;
}
