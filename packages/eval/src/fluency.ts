import type { SteeringBackend } from "@emosteer/core";
import { perplexityFromLogProbs } from "./metrics.js";

/** Perplexity of one response under the unsteered model. */
export interface ResponsePerplexity {
  /** exp(−mean token log-probability); null when the response has no tokens. */
  readonly perplexity: number | null;
  readonly tokens: number;
}

/**
 * Perplexity of `response` under `backend` (unsteered: `steering: null`) conditioned on the
 * chat-formatted `prompt` (the user's query rendered with the model's template and generation prompt).
 */
export async function responsePerplexity(
  backend: SteeringBackend,
  options: { readonly query: string; readonly response: string; readonly signal?: AbortSignal },
): Promise<ResponsePerplexity> {
  const prompt = backend.formatChat([{ role: "user", content: options.query }], { addGenerationPrompt: true });
  if (options.response === "") return { perplexity: null, tokens: 0 };
  const score = await backend.scoreContinuation(prompt, options.response, { steering: null, signal: options.signal });
  return { perplexity: perplexityFromLogProbs(score.logProbs), tokens: score.tokens.length };
}
