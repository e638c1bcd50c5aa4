import type { SteeringSpec } from "@emosteer/core";
import { onePairJoyVector } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOnnxBackend, type OnnxSteeringBackend } from "../src/index.js";

// Prompts of different lengths, so batched rows carry different KV lengths (left padding).
const PROMPTS = [
  "<|im_start|>user\nTell me about your weekend.<|im_end|>\n<|im_start|>assistant\n",
  "<|im_start|>user\nDescribe the view from a mountain top at sunrise, in one sentence.<|im_end|>\n<|im_start|>assistant\n",
  "<|im_start|>user\nHow was work?<|im_end|>\n<|im_start|>assistant\n",
  "<|im_start|>user\nWhat did you cook for dinner yesterday?<|im_end|>\n<|im_start|>assistant\n",
];
const MAX_TOKENS = [8, 4, 8, 6]; // the second leaves early, the fourth joins when it does

/**
 * Tolerance: greedy tokens identical. A batched run changes the matmul shapes (rows, padded key
 * length), which may reorder float sums, but every row's logits stay within onnxruntime's
 * padded-batch agreement (≤ 1e-3, export.test.ts) of its single run, far below the top-2 gaps of
 * these few greedy steps.
 */
describe("ONNX generation session: per-request steering batched in one run (SmolLM2-135M fp32)", () => {
  let backend: OnnxSteeringBackend;
  let specs: SteeringSpec[];

  beforeAll(async () => {
    const { path } = await ensureModel("smollm2-135m-instruct");
    backend = await createOnnxBackend({ modelPath: path, precision: "fp32" });
    const vector = await onePairJoyVector(backend, "test");
    const spec = (alpha: number): SteeringSpec => ({ terms: [{ vector, alpha }], layers: { from: 4, to: 12 } });
    specs = [spec(4), spec(-3), spec(2), spec(-1.5)];
  });

  afterAll(async () => {
    await backend?.dispose();
  });

  /** Runs PROMPTS[i] with steering[i] at once in one session (3 in flight, 4 requests). */
  const together = async (steering: readonly (SteeringSpec | null)[]) => {
    const session = backend.createSession({ parallelSequences: 3 });
    try {
      const generations = await Promise.all(
        PROMPTS.map((p, i) => session.generate(p, { maxTokens: MAX_TOKENS[i]!, steering: steering[i] ?? null })),
      );
      return { tokens: generations.map((g) => g.tokens), stats: session.stats };
    } finally {
      await session.dispose();
    }
  };
  const alone = (steering: readonly (SteeringSpec | null)[]) =>
    Promise.all(
      PROMPTS.map(async (p, i) => (await backend.generate(p, { maxTokens: MAX_TOKENS[i]!, steering: steering[i] ?? null })).tokens),
    );

  it("different steering per row gives each row's single-sequence result, with ≥ 2 sequences in one run", async () => {
    const batched = await together(specs);
    expect(batched.tokens).toEqual(await alone(specs));
    expect(batched.stats.maxSequencesInOneRun).toBe(3);
    expect(batched.stats.sharedRuns).toBeGreaterThan(0);
    expect(batched.stats.promptRuns).toBe(PROMPTS.length);
  });

  it("zero cross-talk: a row's greedy tokens do not change when its neighbours' steering changes", async () => {
    const a = await together(specs);
    const b = await together([specs[0]!, null, specs[0]!, null]);
    expect(b.tokens[0]).toEqual(a.tokens[0]);
    // The neighbours' own steering did change what they generated.
    expect(b.tokens.slice(1)).not.toEqual(a.tokens.slice(1));
  });

  it("every row with the same steering equals the single-sequence steered result", async () => {
    const same = PROMPTS.map(() => specs[0]!);
    const batched = await together(same);
    expect(batched.tokens).toEqual(await alone(same));
    expect(batched.stats.sharedRuns).toBeGreaterThan(0);
  });
});
