// transformers.js and raw onnxruntime-node on the same exported folder: same greedy tokens, same
// residuals, same log-probabilities, same seeded samples, with and without steering.
import { extractEmotionVectors, type EmotionVector, type SteeringBackend, type SteeringSpec } from "@emosteer/core";
import { createOnnxBackend } from "@emosteer/backend-onnx";
import { createTransformersBackend } from "@emosteer/backend-transformers";
import { DEFAULT_MODEL_ID, ensureModel } from "@emosteer/models";
import { exportGgufToOnnx } from "@emosteer/onnx-export";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const PROMPTS = [
  "Describe your morning in two sentences.",
  "What do you think about rainy weekends?",
  "Tell me about a meal you remember.",
];
/**
 * Net-shift α (the default injection: 1 adds the measured shift, −1 removes it). The grid used to
 * be 0.06 / 0.2 / −0.1 from before net-shift, where steered and unsteered tokens can coincide and
 * the parity of steered runs then says nothing; each α here must change the tokens (checked).
 */
const ALPHAS = [0, 1, 2, -1];
const TOKENS = 20;

let onnx: SteeringBackend;
let transformers: SteeringBackend;
let joy: EmotionVector;

beforeAll(async () => {
  const { path } = await ensureModel(DEFAULT_MODEL_ID);
  const { modelDir } = await exportGgufToOnnx({ ggufPath: path, precision: "fp32" });
  onnx = await createOnnxBackend({ modelDir });
  transformers = await createTransformersBackend({ modelDir });
  joy = (await extractEmotionVectors(onnx, { emotions: ["joy"], maxQueries: 6 })).get("joy")!;
});

afterAll(async () => {
  await transformers?.dispose();
  await onnx?.dispose();
});

describe("transformers.js backend vs ONNX backend (same exported SmolLM2 folder)", () => {
  it("describes the same model", () => {
    expect(transformers.model).toEqual(onnx.model);
  });

  it("formats and tokenizes identically", async () => {
    const messages = [{ role: "user" as const, content: PROMPTS[0]! }];
    const text = onnx.formatChat(messages);
    expect(transformers.formatChat(messages)).toBe(text);
    expect(await transformers.tokenize(text)).toEqual(await onnx.tokenize(text));
  });

  it("generates exactly the same greedy tokens for several prompts and α", async () => {
    const rows: string[] = [];
    /** α values whose tokens differed from the unsteered ones for at least one prompt. */
    const changed = new Set<number>();
    for (const content of PROMPTS) {
      const prompt = onnx.formatChat([{ role: "user", content }]);
      let unsteered = "";
      for (const alpha of ALPHAS) {
        const steering: SteeringSpec | null = alpha === 0 ? null : { terms: [{ vector: joy, alpha }] };
        const viaOnnx = await onnx.generate(prompt, { maxTokens: TOKENS, steering });
        const viaTransformers = await transformers.generate(prompt, { maxTokens: TOKENS, steering });
        rows.push(`α=${alpha} ${JSON.stringify(viaTransformers.text.slice(0, 60))}`);
        expect(viaTransformers.tokens, `${content} α=${alpha}`).toEqual(viaOnnx.tokens);
        expect(viaTransformers.text).toBe(viaOnnx.text);
        expect(viaTransformers.finishReason).toBe(viaOnnx.finishReason);
        if (alpha === 0) unsteered = viaOnnx.tokens.join();
        else if (viaOnnx.tokens.join() !== unsteered) changed.add(alpha);
      }
    }
    // The steered comparisons are not unsteered ones in disguise.
    expect([...changed].sort()).toEqual(ALPHAS.filter((a) => a !== 0).sort());
    console.log(`[parity] ${PROMPTS.length * ALPHAS.length} greedy generations identical:\n  ${rows.join("\n  ")}`);
  }, 900_000);

  it("samples the same tokens for the same seed (core's TokenSampler on both), steered and not", async () => {
    const prompt = onnx.formatChat([{ role: "user", content: PROMPTS[2]! }]);
    const distinct = new Set<string>();
    for (const seed of [1, 2, 3]) {
      for (const steering of [null, { terms: [{ vector: joy, alpha: 1 }] }] as const) {
        const options = { maxTokens: TOKENS, temperature: 0.9, topK: 40, topP: 0.95, seed, steering };
        const [viaOnnx, viaTransformers] = [await onnx.generate(prompt, options), await transformers.generate(prompt, options)];
        expect(viaTransformers.tokens, `seed ${seed} ${steering ? "steered" : "unsteered"}`).toEqual(viaOnnx.tokens);
        distinct.add(viaOnnx.tokens.join());
      }
    }
    // Different seeds must actually sample different continuations, or the check above says nothing.
    expect(distinct.size).toBeGreaterThan(3);
    console.log(`[parity] 6 seeded samples identical on both engines (${distinct.size} distinct continuations)`);
  }, 900_000);

  it("captures the same residuals and scores the same log-probabilities under steering", async () => {
    const prompt = onnx.formatChat([{ role: "user", content: PROMPTS[1]! }]);
    const steering: SteeringSpec = { terms: [{ vector: joy, alpha: 1 }] };
    const tokens = await onnx.tokenize(prompt);
    const request = { tokens, spanStart: 5, spanEnd: tokens.length, layers: [1, 12, 29], steering };
    const [a, b] = [await onnx.captureResiduals(request), await transformers.captureResiduals(request)];
    let maxDiff = 0;
    let maxAbs = 0;
    a.data.forEach((rows, k) => {
      rows.forEach((x, i) => {
        maxDiff = Math.max(maxDiff, Math.abs(x - b.data[k]![i]!));
        maxAbs = Math.max(maxAbs, Math.abs(x));
      });
    });
    expect(b.layers).toEqual(a.layers);
    expect(maxDiff / maxAbs).toBeLessThan(1e-4);

    const continuation = "I love the sound of rain on the window!";
    const [sa, sb] = [
      await onnx.scoreContinuation(prompt, continuation, { steering }),
      await transformers.scoreContinuation(prompt, continuation, { steering }),
    ];
    expect(sb.tokens).toEqual(sa.tokens);
    sa.logProbs.forEach((lp, i) => {
      expect(sb.logProbs[i]!).toBeCloseTo(lp, 3);
    });
    console.log(
      `[parity] residual max |Δ|/max|x| = ${(maxDiff / maxAbs).toExponential(2)}; log p(continuation) onnx ${sa.total.toFixed(4)} vs transformers.js ${sb.total.toFixed(4)}`,
    );
  });
});
