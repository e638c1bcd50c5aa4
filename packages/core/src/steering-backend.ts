import type { ModelInfo } from "./model-info.js";
import type { SteeringSpec } from "./steering-spec.js";

export interface ChatMessage {
  readonly role: "system" | "user" | "assistant";
  readonly content: string;
}

/** What a backend can do, declared by the backend (never guessed by callers). */
export interface BackendCapabilities {
  /** Can add a steering tensor to the residual stream during generation and scoring. */
  readonly steering: boolean;
  /** Can return per-layer residual activations from a teacher-forced pass. */
  readonly capture: boolean;
  /** Can score the log-probability of a continuation. */
  readonly logProbs: boolean;
  /** Supports `seed` with temperature > 0 reproducibly. */
  readonly seededSampling: boolean;
  /**
   * How many generations run at once, each its own sequence with its own steering, decoded
   * together: 1 when the engine runs generations one at a time (it has no batched session);
   * otherwise the default `parallelSequences` of its `createSession` (core's `GenerationSession`).
   * Steering never leaks between generations either way.
   */
  readonly parallelSequences: number;
  /** Blocks that steering can reach (llama.cpp: 1..layerCount-1). */
  readonly steerableLayers: { readonly from: number; readonly to: number };
}

/** A teacher-forced pass over `tokens`, returning residuals for positions `[spanStart, spanEnd)`. */
export interface CaptureRequest {
  readonly tokens: readonly number[];
  readonly spanStart: number;
  readonly spanEnd: number;
  /** Layers to return. Defaults to all, 0..layerCount-1. */
  readonly layers?: readonly number[];
  /** Steering active during the pass. Defaults to none. */
  readonly steering?: SteeringSpec | null;
  readonly signal?: AbortSignal;
}

/** Residual stream (output of each block) for a span of positions. */
export interface ResidualCapture {
  readonly layers: readonly number[];
  /** Number of captured positions (spanEnd - spanStart). */
  readonly positions: number;
  readonly hiddenSize: number;
  /** One entry per element of `layers`: `positions × hiddenSize` floats, row-major by position. */
  readonly data: readonly Float32Array[];
}

export interface SamplingOptions {
  /** 0 means greedy. Defaults to 0. */
  readonly temperature?: number;
  /** Defaults to 40 when sampling. */
  readonly topK?: number;
  /** Defaults to 0.95 when sampling. */
  readonly topP?: number;
  /** Seed for sampling; same seed, same model, same backend → same tokens. Defaults to 0. */
  readonly seed?: number;
}

export interface GeneratedToken {
  /** The generated token; -1 in the one call after the last token that releases text still held back. */
  readonly token: number;
  /** Text this token settled (often "", see {@link GenerateOptions.onToken}). */
  readonly text: string;
}

export interface GenerateOptions extends SamplingOptions {
  /** Steering for this call only; null or absent means unsteered. */
  readonly steering?: SteeringSpec | null;
  /** A whole number ≥ 1; defaults to 128. The context also bounds the generation (finishReason "length"). */
  readonly maxTokens?: number;
  /** Extra stop strings (the model's end-of-generation tokens always stop). Neither streamed nor part of `text`. */
  readonly stop?: readonly string[];
  readonly signal?: AbortSignal;
  /**
   * Called for every generated token, in order, with the text it settled. Text that may still
   * change is held back: an incomplete UTF-8 character, and a tail that could begin a stop string
   * (so stop strings are never streamed). When the generation ends with text held back, one last
   * call with `token: -1` releases it: the pieces joined always equal the result's `text`.
   */
  readonly onToken?: (token: GeneratedToken) => void;
}

export interface GenerationTimings {
  readonly promptTokens: number;
  readonly generatedTokens: number;
  /** Time to evaluate the prompt (ms). */
  readonly promptMs: number;
  /** Time from the end of the prompt to the last token (ms). */
  readonly decodeMs: number;
  /** Time from the call to the first generated token (ms). */
  readonly firstTokenMs: number;
}

export interface Generation {
  readonly text: string;
  readonly tokens: readonly number[];
  readonly finishReason: "stop" | "length" | "abort";
  readonly timings: GenerationTimings;
}

export interface ContinuationScore {
  /** Tokens of the continuation, as scored. */
  readonly tokens: readonly number[];
  /** Natural-log probability of each continuation token given everything before it. */
  readonly logProbs: Float32Array;
  /** Sum of `logProbs`. */
  readonly total: number;
}

/**
 * The one interface every engine implements. Core never imports an engine; an engine package
 * exports a factory returning this (shared pieces for implementing it: `@emosteer/core/engine`).
 *
 * Every engine answers the same call the same way (checked on all three by
 * `packages/conformance`):
 * - **Bad arguments** are refused before any work, with the same error class on every engine:
 *   `InvalidArgumentError` for out-of-range options (`maxTokens` must be a whole number ≥ 1: 0,
 *   negative, fractional or non-finite values are refused, a huge one is accepted and the context
 *   bounds it; `temperature` finite ≥ 0; `topK` integer ≥ 1; `topP` in (0, 1]; `seed` a uint32)
 *   and for an empty prompt; `HiddenSizeMismatchError` / `LayerCountMismatchError` /
 *   `FingerprintMismatchError` for steering vectors made for another model.
 * - **Context**: a prompt that leaves no room for one generated token (prompt tokens ≥
 *   `contextSize`), and a scored or captured sequence longer than `contextSize`, throw
 *   `ContextOverflowError`. A generation that fills the context ends with finishReason "length"
 *   when prompt + generated tokens reach `contextSize`; nothing is truncated or shifted.
 * - **Abort** (`signal`): aborted before the call, while the call waits for the engine, or during
 *   the prompt pass, the call rejects with `AbortedError` and no token is generated (a queued call
 *   never evaluates its prompt). Aborted once a token exists, it resolves with the tokens so far
 *   and finishReason "abort".
 * - **Stop strings** end the generation with finishReason "stop"; they are never passed to
 *   `onToken` and are cut from `text` (with everything after them).
 * - **Dispose** while a call runs or waits: that call rejects with `DisposedError` (the running
 *   one at its next token, before any native resource is freed); every later call throws it.
 */
export interface SteeringBackend extends AsyncDisposable {
  /** Engine name, e.g. `"llama.cpp"`, `"onnx"`, `"transformers.js"`. */
  readonly name: string;
  readonly model: ModelInfo;
  readonly capabilities: BackendCapabilities;
  /** Tokens one sequence may hold, prompt plus generation (the engine's `contextSize` option). */
  readonly contextSize: number;
  readonly disposed: boolean;

  /** Render messages with the model's own chat template. */
  formatChat(messages: readonly ChatMessage[], options?: { readonly addGenerationPrompt?: boolean }): string;
  /**
   * Tokenize text. Special-token markup (e.g. `<|im_start|>`) is parsed as special tokens unless
   * `special` is false, when it is read as the characters it is made of (use that for any text a
   * user wrote). No BOS is added unless the text contains it (and `special` is on).
   */
  tokenize(text: string, options?: { readonly special?: boolean }): Promise<number[]>;
  /**
   * Tokens of `messages` rendered with the chat template (`formatChat`), in which only the
   * template's own markup is special: a message containing `<|im_start|>system` is text, never a
   * new turn. `generate(messages)` prompts with exactly these tokens. (Tokenizing the string
   * `formatChat` returns parses markup in the contents too: the boundary is gone in a string.)
   */
  tokenizeChat(messages: readonly ChatMessage[], options?: { readonly addGenerationPrompt?: boolean }): Promise<number[]>;
  detokenize(tokens: readonly number[]): Promise<string>;

  /** Teacher-forced pass returning the residual stream for a span: the extraction primitive. */
  captureResiduals(request: CaptureRequest): Promise<ResidualCapture>;

  /**
   * Generate a completion of `prompt`: messages (formatted and tokenized as `tokenizeChat` does,
   * contents as plain text), or a string already chat-formatted by the caller, whose special-token
   * markup is parsed (a string is trusted; never splice user text into one).
   */
  generate(prompt: string | readonly ChatMessage[], options?: GenerateOptions): Promise<Generation>;

  /** Log-probability of `continuation` after `prompt` (both plain text; prompt usually chat-formatted). */
  scoreContinuation(
    prompt: string,
    continuation: string,
    options?: { readonly steering?: SteeringSpec | null; readonly signal?: AbortSignal },
  ): Promise<ContinuationScore>;

  /** Frees the engine's resources. Idempotent; any later call throws `DisposedError`. */
  dispose(): Promise<void>;
}
