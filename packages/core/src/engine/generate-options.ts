import { ContextOverflowError, InvalidArgumentError } from "../errors.js";
import type { ChatMessage, GenerateOptions, SamplingOptions } from "../steering-backend.js";

/** `maxTokens` when a call gives none. */
export const DEFAULT_MAX_TOKENS = 128;

/** {@link SamplingOptions} with every default filled in, checked. */
export interface ResolvedSampling {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly seed: number;
}

/** {@link GenerateOptions}' numbers and stop strings with every default filled in, checked. */
export interface ResolvedGenerateOptions extends ResolvedSampling {
  readonly maxTokens: number;
  /** Non-empty stop strings (empty ones stop nothing and are dropped). */
  readonly stop: readonly string[];
}

/**
 * Checks sampling options and fills in the defaults (greedy; top-k 40, top-p 0.95, seed 0 when
 * sampling). Throws {@link InvalidArgumentError} naming the first bad option: every engine
 * refuses the same values the same way.
 */
export function resolveSampling(options: SamplingOptions = {}): ResolvedSampling {
  const temperature = options.temperature ?? 0;
  const topK = options.topK ?? 40;
  const topP = options.topP ?? 0.95;
  const seed = options.seed ?? 0;
  if (!(typeof temperature === "number" && Number.isFinite(temperature) && temperature >= 0))
    throw new InvalidArgumentError("temperature", temperature, "a finite number ≥ 0 (0 is greedy)");
  if (!(Number.isSafeInteger(topK) && topK >= 1)) throw new InvalidArgumentError("topK", topK, "an integer ≥ 1");
  if (!(typeof topP === "number" && topP > 0 && topP <= 1)) throw new InvalidArgumentError("topP", topP, "a number in (0, 1]");
  if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff))
    throw new InvalidArgumentError("seed", seed, "an integer in 0..4294967295");
  return { temperature, topK, topP, seed };
}

/**
 * Checks a `generate` call's options before any work starts. `maxTokens` must be a whole number
 * ≥ 1 (0, negative, fractional, NaN and ±Infinity are refused; a huge value is accepted and the
 * context bounds the generation, ending it with finishReason "length").
 */
export function resolveGenerateOptions(options: GenerateOptions = {}): ResolvedGenerateOptions {
  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
  if (!(Number.isSafeInteger(maxTokens) && maxTokens >= 1)) throw new InvalidArgumentError("maxTokens", maxTokens, "a whole number ≥ 1");
  const stop = options.stop ?? [];
  if (!Array.isArray(stop) || stop.some((s) => typeof s !== "string")) throw new InvalidArgumentError("stop", stop, "an array of strings");
  if (options.onToken !== undefined && typeof options.onToken !== "function")
    throw new InvalidArgumentError("onToken", options.onToken, "a function");
  return { ...resolveSampling(options), maxTokens, stop: stop.filter((s) => s.length > 0) };
}

/**
 * Checks a prompt's tokens before generation: at least one token (the first generated token is
 * predicted from the last prompt token) and fewer than `contextSize` (room for one generated
 * token). Returns `tokens`. Every engine calls this from `generate` and from its sessions, so a
 * prompt is refused the same way everywhere: {@link InvalidArgumentError} naming the prompt
 * (the text, or "(messages)" for a chat), or {@link ContextOverflowError}.
 */
export function checkPromptTokens<T extends readonly number[]>(prompt: string | readonly ChatMessage[], tokens: T, contextSize: number): T {
  if (tokens.length === 0)
    throw new InvalidArgumentError(
      "prompt",
      typeof prompt === "string" ? prompt : "(messages)",
      "text that tokenizes to at least one token",
    );
  if (tokens.length >= contextSize) throw new ContextOverflowError("Prompt", tokens.length, contextSize);
  return tokens;
}
