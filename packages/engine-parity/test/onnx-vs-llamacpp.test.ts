// ONNX export (@emosteer/onnx-export + backend-onnx) against llama.cpp (backend-llamacpp) on the
// same GGUF: tokenisation, next-token logits over real text, and greedy continuations.
//
// What this file asserts is an invariant of our code on any CPU: the exported graph is llama.cpp's
// graph, so on an F32 copy of the weights (made by llama.cpp's own llama-quantize) the two engines
// give the same logits up to a stated tolerance τ and the same greedy tokens up to the first
// position whose top-2 margin is below ε = 2τ (src/greedy-parity.ts says why 2τ). ggml's F32
// kernels sum in an order that depends on the SIMD width (AVX2 vs AVX-512 vs NEON) and
// onnxruntime's MLAS likewise; that reordering moves a logit by ~1e-4 (relative float32 rounding
// over a 576–1024-term dot product), two orders of magnitude below τ.
//
// What it does not assert: agreement with llama.cpp on the quantized GGUF. There llama.cpp's CPU
// matmuls round every activation row to int8 blocks (Q8_0/Q8_1 of 32, Q8_K of 256) and pick
// per-ISA kernels (tinyBLAS, repacked layouts, vec_dot), so top-1 agreement and identical greedy
// continuations with the quantized file describe one CPU, not our code (issue 10: 0/4 identical
// 64-token continuations on an AMD EPYC against 1/4 here). Those figures, and the opt-in
// "llama.cpp" numerics export's (which emulates the int8 rounding op by op, bit-exact per op in
// onnx-export's activation-rounding test), are a benchmark measurement:
//   npx tsx --conditions=@emosteer/source packages/engine-parity/scripts/quantized-parity-bench.ts
// → benchmarks/engines.json ("quantizedParity") and benchmarks/ENGINES.md.
import { createLlamaCppBackend, type LlamaCppBackend } from "@emosteer/backend-llamacpp";
import { createOnnxBackend, type OnnxSteeringBackend } from "@emosteer/backend-onnx";
import { ensureModel } from "@emosteer/models";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { f32Gguf } from "../src/f32-gguf.js";
import { commonPrefixLength, GREEDY_PROMPTS, GREEDY_TOKENS, lastRow, top2Margin } from "../src/greedy-parity.js";
import { compareLogits } from "../src/logit-parity.js";
import { parityText, PARITY_POSITIONS } from "../src/parity-text.js";
import { tokenizerStressStrings } from "../src/tokenizer-strings.js";

/**
 * Tolerances of the exact export against llama.cpp on the F32 copy, per model. τ bounds every
 * |Δlogit| (all positions × vocabulary); it is about twice the largest difference measured here
 * (SmolLM2 0.048, Qwen2.5 0.025, Gemma 3 0.297: ggml's fp16 GELU table and fp16 attention operands
 * are in llama.cpp's F32 graph too, which the exact export does not round; those tables are the
 * same on every ISA). The mean and next-token log-probability bounds are 4–10× the measured values.
 */
interface F32Tolerance {
  readonly maxAbsDiff: number;
  readonly maxMeanAbsDiff: number;
  readonly maxLogProbDiff: number;
}

const MODELS: readonly { readonly id: string; readonly architecture: string; readonly f32: F32Tolerance }[] = [
  // measured: max |Δlogit| 0.048, mean 0.0022, max |Δ log p(next)| 0.0095
  { id: "smollm2-135m-instruct", architecture: "llama", f32: { maxAbsDiff: 0.1, maxMeanAbsDiff: 0.02, maxLogProbDiff: 0.1 } },
  // measured: 0.025, 0.0015, 0.012
  { id: "qwen2.5-coder-0.5b-instruct", architecture: "qwen2", f32: { maxAbsDiff: 0.05, maxMeanAbsDiff: 0.02, maxLogProbDiff: 0.1 } },
  // measured: 0.297, 0.0077, 0.107
  { id: "gemma3-270m", architecture: "gemma3", f32: { maxAbsDiff: 0.6, maxMeanAbsDiff: 0.03, maxLogProbDiff: 0.25 } },
];

describe.each(MODELS)("$id ($architecture): ONNX fp32 vs llama.cpp", (m) => {
  /** Greedy tokens may differ only where the top-2 margin is below this (two logits each off by < τ). */
  const epsilon = 2 * m.f32.maxAbsDiff;
  let path: string;
  let llama: LlamaCppBackend;
  let f32: LlamaCppBackend;
  let exact: OnnxSteeringBackend;
  let tokens: number[];
  let reference: Float32Array;
  let f32Logits: Float32Array;

  beforeAll(async () => {
    ({ path } = await ensureModel(m.id));
    llama = await createLlamaCppBackend({ modelPath: path, contextSize: 1024, threads: 2 });
    f32 = await createLlamaCppBackend({ modelPath: await f32Gguf(path, inject("llamaToolsDir")), contextSize: 1024, threads: 2 });
    exact = await createOnnxBackend({ modelPath: path, precision: "fp32", threads: 2 });
    tokens = (await llama.tokenize(await parityText())).slice(0, PARITY_POSITIONS);
    reference = await llama.evaluateLogits({ tokens });
    f32Logits = await f32.evaluateLogits({ tokens });
  });

  afterAll(async () => {
    await llama?.dispose();
    await f32?.dispose();
    await exact?.dispose();
  });

  it("identifies the same model, in separate exports per numerics", async () => {
    // Opened only here and closed at once: with two llama.cpp models (one F32) and the exact
    // export open, a third session of Qwen2.5's size pushed the worker past 8 GB.
    const emulated = await createOnnxBackend({ modelPath: path, precision: "fp32", numerics: "llama.cpp", threads: 2 });
    try {
      for (const onnx of [exact, emulated]) {
        expect(onnx.model).toMatchObject({
          architecture: llama.model.architecture,
          layerCount: llama.model.layerCount,
          hiddenSize: llama.model.hiddenSize,
          fingerprint: llama.model.fingerprint,
        });
      }
      expect([exact.numerics, emulated.numerics]).toEqual(["exact", "llama.cpp"]);
      expect(emulated.modelDir).not.toBe(exact.modelDir);
    } finally {
      await emulated.dispose();
    }
    // The F32 copy is the same network with other weight storage: same vocabulary and tokens.
    expect(f32.model.vocabSize).toBe(llama.model.vocabSize);
    expect(await f32.tokenize("Hello there, how are you?")).toEqual(await llama.tokenize("Hello there, how are you?"));
  });

  it("tokenises ≥ 1,000 strings exactly like llama.cpp", { timeout: 900_000 }, async () => {
    const strings = tokenizerStressStrings(1200);
    const mismatches: string[] = [];
    for (const text of strings) {
      const [a, b] = await Promise.all([llama.tokenize(text), exact.tokenize(text)]);
      if (a.join() !== b.join()) mismatches.push(JSON.stringify(text));
    }
    console.log(`[${m.id}] tokenisation: ${strings.length - mismatches.length}/${strings.length} identical`, mismatches.slice(0, 5));
    expect(mismatches).toEqual([]);
  });

  it(`the exact export gives llama.cpp's logits on an F32 copy of the weights over ${PARITY_POSITIONS} positions (|Δlogit| < τ = ${m.f32.maxAbsDiff}; same argmax wherever the margin is ≥ 2τ)`, async () => {
    expect(tokens.length).toBe(PARITY_POSITIONS);
    const vocab = llama.model.vocabSize;
    const graph = compareLogits(f32Logits, await exact.logits(tokens), vocab, tokens.slice(1));
    const selfAcrossPrecisions = compareLogits(f32Logits, reference, vocab, tokens.slice(1));
    console.log(`[${m.id}] llama.cpp F32 vs exact export:`, graph);
    console.log(`[${m.id}] llama.cpp F32 vs llama.cpp on the GGUF (weight quantization, for scale):`, selfAcrossPrecisions);
    expect(graph.positions).toBe(PARITY_POSITIONS);
    expect(graph.maxAbsDiff).toBeLessThan(m.f32.maxAbsDiff);
    expect(graph.meanAbsDiff).toBeLessThan(m.f32.maxMeanAbsDiff);
    expect(graph.maxNextTokenLogProbDiff).toBeLessThan(m.f32.maxLogProbDiff);
    // Follows from the bound above, stated for the reader: no decided argmax differs.
    expect(graph.maxMarginWhereTop1Differs).toBeLessThan(epsilon);
    // The quantized file is a different function (its weights are rounded, on any kernel): the
    // graph is far closer to llama.cpp's F32 run than llama.cpp's quantized run is (measured 75×,
    // 30× and 34× on the mean |Δlogit|; the weight rounding alone guarantees a wide gap).
    expect(graph.meanAbsDiff).toBeLessThan(selfAcrossPrecisions.meanAbsDiff / 5);
  }, 900_000);

  it(`continues chat prompts greedily like llama.cpp on F32 weights up to the first near-tie (${GREEDY_TOKENS} tokens, margin ε = 2τ = ${epsilon})`, async () => {
    const vocab = llama.model.vocabSize;
    const rows: string[] = [];
    let agreedTokens = 0;
    for (const question of GREEDY_PROMPTS) {
      // Base models without a chat template continue the plain question.
      const prompt = f32.model.chatTemplate ? f32.formatChat([{ role: "user", content: question }]) : question;
      if (f32.model.chatTemplate) expect(exact.formatChat([{ role: "user", content: question }])).toBe(prompt);
      const a = await f32.generate(prompt, { maxTokens: GREEDY_TOKENS });
      const b = await exact.generate(prompt, { maxTokens: GREEDY_TOKENS });
      const common = commonPrefixLength(a.tokens, b.tokens);
      agreedTokens += common;
      if (common === a.tokens.length && common === b.tokens.length) {
        rows.push(`identical (${common} tokens, ${a.finishReason})`);
        continue;
      }
      // The first divergence (a differing token, or one engine ending where the other goes on):
      // both engines see the same context there, so both must find it a near-tie.
      const context = [...(await f32.tokenize(prompt)), ...a.tokens.slice(0, common)];
      const marginF32 = top2Margin(lastRow(await f32.evaluateLogits({ tokens: context }), vocab));
      const marginOnnx = top2Margin(lastRow(await exact.logits(context), vocab));
      rows.push(`diverge at ${common} (top-2 margin llama.cpp F32 ${marginF32.toFixed(4)}, ONNX ${marginOnnx.toFixed(4)})`);
      expect(marginF32, `${question}: diverged at token ${common}`).toBeLessThan(epsilon);
      expect(marginOnnx, `${question}: diverged at token ${common}`).toBeLessThan(epsilon);
    }
    console.log(`[${m.id}] greedy ${GREEDY_TOKENS}-token continuations, exact export vs llama.cpp F32:\n  ${rows.join("\n  ")}`);
    // Not vacuous: the engines do decode the same text for a while (a model whose very first
    // token is a near-tie for every prompt would say nothing here).
    expect(agreedTokens).toBeGreaterThan(0);
  }, 1_800_000);
});
