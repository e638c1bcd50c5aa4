import type { SteeringSpec } from "@emosteer/core";
import { onePairJoyVector } from "@emosteer/core/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTransformersBackend, type TransformersSteeringBackend } from "../src/index.js";
import { exportedModelDir } from "./exported-model.js";

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
 * padded-batch agreement (≤ 1e-3, onnx-export's export.test.ts) of its single run, far below the
 * top-2 gaps of these few greedy steps. The single run is the backend's own generate (batch 1,
 * through transformers.js's generate loop), so this also checks the session against it.
 */
describe("transformers.js generation session: per-request steering batched in one forward pass (SmolLM2-135M fp32)", () => {
  let backend: TransformersSteeringBackend;
  let specs: SteeringSpec[];

  beforeAll(async () => {
    backend = await createTransformersBackend({ modelDir: await exportedModelDir("fp32") });
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
  const alone = async (steering: readonly (SteeringSpec | null)[]) => {
    const out: (readonly number[])[] = [];
    for (const [i, p] of PROMPTS.entries())
      out.push((await backend.generate(p, { maxTokens: MAX_TOKENS[i]!, steering: steering[i] ?? null })).tokens);
    return out;
  };

  it("offers sessions with 4 sequences by default", () => {
    expect(backend.capabilities.parallelSequences).toBe(4);
    const session = backend.createSession();
    expect(session.parallelSequences).toBe(4);
    return session.dispose();
  });

  it("different steering per row gives each row's single-generate result, with ≥ 2 sequences in one run", async () => {
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

  it("every row with the same steering equals the backend's single steered generate", async () => {
    const same = PROMPTS.map(() => specs[0]!);
    const batched = await together(same);
    expect(batched.tokens).toEqual(await alone(same));
    expect(batched.stats.sharedRuns).toBeGreaterThan(0);
  });
});
