import { type Pooling, meanTokenNorms, poolResiduals } from "./pooling.js";
import type { ChatMessage, SteeringBackend } from "./steering-backend.js";

/** A response teacher-forced after a chat context, reduced to one vector per layer. */
export interface PooledResponse {
  /** Layers captured, ascending. */
  readonly layers: readonly number[];
  /** One pooled vector per entry of `layers`. */
  readonly pooled: readonly Float32Array[];
  /** Mean per-token L2 norm of the residual stream over the response, per entry of `layers`. */
  readonly tokenNorms: Float32Array;
  /** Number of response tokens. */
  readonly tokens: number;
}

export interface CaptureResponseOptions {
  readonly pooling: Pooling;
  /** Layers to capture. Defaults to every steerable layer, 1..layerCount-1. */
  readonly layers?: readonly number[];
  readonly signal?: AbortSignal;
}

/**
 * Teacher-forces `response` as the assistant's answer to `context` and pools the residual stream
 * over the response tokens only. The context is rendered with the model's chat template (plus the
 * generation prompt); the span starts where the tokens of context+response first differ from the
 * tokens of the context alone, so a token merged across the boundary counts as response.
 * Returns null when the response has no tokens of its own.
 */
export async function captureResponse(
  backend: SteeringBackend,
  context: readonly ChatMessage[],
  response: string,
  options: CaptureResponseOptions,
): Promise<PooledResponse | null> {
  const prompt = backend.formatChat(context, { addGenerationPrompt: true });
  const promptTokens = await backend.tokenize(prompt);
  const tokens = await backend.tokenize(prompt + response);
  let spanStart = 0;
  while (spanStart < promptTokens.length && spanStart < tokens.length && promptTokens[spanStart] === tokens[spanStart]) spanStart++;
  if (spanStart >= tokens.length) return null;
  const layers = options.layers ?? Array.from({ length: backend.model.layerCount - 1 }, (_, i) => i + 1);
  const capture = await backend.captureResiduals({
    tokens,
    spanStart,
    spanEnd: tokens.length,
    layers,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (capture.positions !== tokens.length - spanStart || capture.layers.join() !== layers.join()) {
    throw new RangeError(
      `Backend ${backend.name} returned layers [${capture.layers.join(",")}] × ${capture.positions} positions for layers [${layers.join(",")}] × ${tokens.length - spanStart} tokens: the backend is broken.`,
    );
  }
  return {
    layers: capture.layers,
    pooled: poolResiduals(capture, options.pooling),
    tokenNorms: meanTokenNorms(capture),
    tokens: capture.positions,
  };
}
