import type { CellRecord } from "../src/store.js";

/** A stored cell of a synthetic grid: model "m" on llama.cpp, judged by "judge-1" (v1); `overrides` change any field. */
export function storedCell(
  queryId: string,
  condition = "ev:joy@1",
  text = `answer to ${queryId}`,
  overrides: Partial<CellRecord> = {},
): CellRecord {
  const unsteered = condition === "none";
  return {
    model: "m",
    backend: "llama.cpp",
    extraction: unsteered ? "-" : "mean-diff",
    corpus: unsteered ? "-" : "fixed",
    condition,
    queryId,
    maxTokens: 16,
    seed: 0,
    setupHash: "setup-a",
    queryHash: `hash-${queryId}`,
    method: unsteered ? "none" : "ev",
    weights: unsteered ? {} : { joy: 1 },
    query: `query ${queryId}`,
    text,
    generatedTokens: 16,
    finishReason: "length",
    promptTokens: 20,
    promptMs: 10,
    decodeMs: 100,
    firstTokenMs: 12,
    judgeId: "judge-1",
    judgeName: "v1",
    judge: { joy: 0.7, neutral: 0.3 },
    lexicon: { joy: 5, anger: 0 },
    perplexity: 4.5,
    distinct2: 0.9,
    fidelity: unsteered ? null : 0.8,
    runId: "r1",
    createdAt: "2026-01-01T00:00:00.000Z",
    ...overrides,
  };
}
