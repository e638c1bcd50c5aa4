import type { ChatMessage, ContinuationScore, SteeringBackend } from "@emosteer/core";
import { describe, expect, it } from "vitest";
import { responsePerplexity } from "../src/fluency.js";

/**
 * The fluency metric only needs `formatChat` and `scoreContinuation` of the SteeringBackend
 * contract; this recording double checks what eval asks of the engine (real engines are tested in
 * their own packages) and returns log-probabilities we can compute by hand.
 */
function recordingBackend(logProbs: number[]) {
  const calls: { prompt: string; continuation: string; steering: unknown }[] = [];
  const backend = {
    formatChat: (messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }) =>
      `<user>${messages.map((m) => m.content).join("")}</user>${options?.addGenerationPrompt ? "<assistant>" : ""}`,
    scoreContinuation: async (prompt: string, continuation: string, options?: { steering?: unknown }): Promise<ContinuationScore> => {
      calls.push({ prompt, continuation, steering: options?.steering });
      return { tokens: logProbs.map((_, i) => i), logProbs: Float32Array.from(logProbs), total: logProbs.reduce((a, b) => a + b, 0) };
    },
  } as unknown as SteeringBackend;
  return { backend, calls };
}

describe("responsePerplexity", () => {
  it("scores the response unsteered after the chat-formatted query", async () => {
    const { backend, calls } = recordingBackend([Math.log(0.5), Math.log(0.125)]);
    const r = await responsePerplexity(backend, { query: "How are you?", response: "Great!" });
    expect(r.perplexity).toBeCloseTo(4, 5);
    expect(r.tokens).toBe(2);
    expect(calls).toEqual([{ prompt: "<user>How are you?</user><assistant>", continuation: "Great!", steering: null }]);
  });

  it("an empty response has no perplexity (null), and the backend is not asked", async () => {
    const { backend, calls } = recordingBackend([]);
    expect(await responsePerplexity(backend, { query: "q", response: "" })).toEqual({ perplexity: null, tokens: 0 });
    expect(calls).toHaveLength(0);
  });
});
