// ONNX export (@emosteer/onnx-export + backend-onnx) against llama.cpp (backend-llamacpp) on the
// same GGUF: tokenisation, next-token logits over real text, and greedy continuations.
//
// What the numbers say (measured with scripts/numerics-steps.ts, 520 positions, see the floors):
// - The graph is llama.cpp's graph. On an F32 copy of the weights made by llama.cpp's own
//   llama-quantize, llama.cpp and the "exact" export agree on every top-1 token (100 % on all three
//   models; max |Δlogit| 0.05 SmolLM2, 0.02 Qwen2.5, 0.30 Gemma 3).
// - llama.cpp on the quantized GGUF is a different function: its CPU matmuls round every
//   activation row to int8 blocks (Q8_0/Q8_1 of 32, Q8_K of 256) before the dot product. That
//   alone moves it as far from llama.cpp on F32 weights (SmolLM2: top-1 95.4 %, mean |Δlogit|
//   0.167) as from the exact export (95.4 %, 0.167).
// - The "llama.cpp" numerics export emulates those roundings (int8 activations bit-exact against
//   ggml's quantizers, Q8_1 block sums, fp16 Q/K/V and softmax probabilities, ggml's fp16 GELU
//   table and RoPE angle table). Each rounding matches llama.cpp's tensors op by op (checked on
//   dumped layer-0 tensors: ≤ 1e-7 relative), and the first positions of a sequence then agree
//   bit for bit, but it does not reach 99 % top-1: ggml and onnxruntime sum dot products in
//   different orders, so a third of the attention outputs differ in the last bit, and an int8
//   rounding turns a last-bit difference into a whole quantisation step (~1/127 of the block's
//   largest value) wherever a value sits near a rounding boundary. From a few positions in, every
//   position has such flips in every layer; they are as large as the rounding noise itself, so
//   emulating the rounding does not cancel llama.cpp's noise, it only draws noise of the same kind.
//   Reaching 99 % would need onnxruntime to reproduce ggml's summation order bit for bit.
// Stepwise, top-1 against llama.cpp on the GGUF (SmolLM2 / Qwen2.5 / Gemma 3): exact 95.4 / 97.3 /
// 91.9; + int8 activations 94.4 / 96.3 / 91.5; + Q8_1 block sums 96.0 / – / –; + fp16 attention
// 95.0 / 98.3 / 91.7; + fp16 GELU table – / – / 91.7; + RoPE table ("llama.cpp") 95.6 / 97.9 /
// 92.3. The steps move top-1 by ±1–2 points either way: the size of the flip noise, not a trend.
import { createLlamaCppBackend, type LlamaCppBackend } from "@emosteer/backend-llamacpp";
import { createOnnxBackend, type OnnxSteeringBackend } from "@emosteer/backend-onnx";
import { ensureModel } from "@emosteer/models";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { f32Gguf } from "../src/f32-gguf.js";
import { compareLogits, type LogitParity } from "../src/logit-parity.js";
import { parityText, PARITY_POSITIONS } from "../src/parity-text.js";
import { tokenizerStressStrings } from "../src/tokenizer-strings.js";

/** Floors of one comparison: measured values with a small margin (measured numbers in comments). */
interface Floors {
  readonly minTop1: number;
  readonly maxLogProbDiff: number;
  readonly maxMeanAbsDiff: number;
}

const MODELS: readonly {
  readonly id: string;
  readonly architecture: string;
  /** The "llama.cpp" numerics export against llama.cpp on the GGUF. */
  readonly llamaCppNumerics: Floors;
  /** The "exact" export (what transformers.js loads) against llama.cpp on the GGUF. */
  readonly exact: Floors;
  /** The "exact" export against llama.cpp on the F32 copy of the weights. */
  readonly exactVsF32: Floors;
}[] = [
  {
    id: "smollm2-135m-instruct",
    architecture: "llama",
    // measured: top-1 0.9558, max |Δ log p(next)| 0.51, mean |Δlogit| 0.160
    llamaCppNumerics: { minTop1: 0.94, maxLogProbDiff: 1, maxMeanAbsDiff: 0.3 },
    // measured: 0.9538, 0.49, 0.167
    exact: { minTop1: 0.93, maxLogProbDiff: 1, maxMeanAbsDiff: 0.3 },
    // measured: 1.0000, 0.0095, 0.0022 (llama.cpp F32 vs llama.cpp on the GGUF: 0.9538, 0.49, 0.167)
    exactVsF32: { minTop1: 0.99, maxLogProbDiff: 0.1, maxMeanAbsDiff: 0.02 },
  },
  {
    id: "qwen2.5-coder-0.5b-instruct",
    architecture: "qwen2",
    // measured: 0.9788, 0.31, 0.054
    llamaCppNumerics: { minTop1: 0.96, maxLogProbDiff: 1, maxMeanAbsDiff: 0.3 },
    // measured: 0.9731, 0.32, 0.047
    exact: { minTop1: 0.95, maxLogProbDiff: 1, maxMeanAbsDiff: 0.3 },
    // measured: 1.0000, 0.012, 0.0015 (llama.cpp F32 vs llama.cpp on the GGUF: 0.9731, 0.31, 0.047)
    exactVsF32: { minTop1: 0.99, maxLogProbDiff: 0.1, maxMeanAbsDiff: 0.02 },
  },
  {
    id: "gemma3-270m",
    architecture: "gemma3",
    // measured: 0.9231, 1.03, 0.276
    llamaCppNumerics: { minTop1: 0.9, maxLogProbDiff: 2.5, maxMeanAbsDiff: 0.35 },
    // measured: 0.9192, 2.01, 0.260
    exact: { minTop1: 0.9, maxLogProbDiff: 2.5, maxMeanAbsDiff: 0.3 },
    // measured: 1.0000, 0.107, 0.0077 (llama.cpp F32 vs llama.cpp on the GGUF: 0.9192, 2.12, 0.262)
    exactVsF32: { minTop1: 0.99, maxLogProbDiff: 0.25, maxMeanAbsDiff: 0.03 },
  },
];
const GREEDY_PROMPTS = ["Tell me about your weekend.", "What is the capital of France?", "How do I boil an egg?", "Give me three tips for learning a language."];

function expectWithin(parity: LogitParity, floors: Floors): void {
  expect(parity.positions).toBe(PARITY_POSITIONS);
  expect(parity.top1Agreement).toBeGreaterThanOrEqual(floors.minTop1);
  expect(parity.maxNextTokenLogProbDiff).toBeLessThan(floors.maxLogProbDiff);
  expect(parity.meanAbsDiff).toBeLessThan(floors.maxMeanAbsDiff);
}

describe.each(MODELS)("$id ($architecture): ONNX fp32 vs llama.cpp", (m) => {
  let path: string;
  let llama: LlamaCppBackend;
  let exact: OnnxSteeringBackend;
  let emulated: OnnxSteeringBackend;
  let tokens: number[];
  let reference: Float32Array;

  beforeAll(async () => {
    ({ path } = await ensureModel(m.id));
    llama = await createLlamaCppBackend({ modelPath: path, contextSize: 1024, threads: 2 });
    exact = await createOnnxBackend({ modelPath: path, precision: "fp32", threads: 2 });
    emulated = await createOnnxBackend({ modelPath: path, precision: "fp32", numerics: "llama.cpp", threads: 2 });
    tokens = (await llama.tokenize(await parityText())).slice(0, PARITY_POSITIONS);
    reference = await llama.evaluateLogits({ tokens });
  });

  afterAll(async () => {
    await llama?.dispose();
    await exact?.dispose();
    await emulated?.dispose();
  });

  it("identifies the same model, in separate exports per numerics", () => {
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

  it(`the llama.cpp-numerics export agrees on next-token logits over ${PARITY_POSITIONS} positions of real text`, async () => {
    expect(tokens.length).toBe(PARITY_POSITIONS);
    const parity = compareLogits(reference, await emulated.logits(tokens), llama.model.vocabSize, tokens.slice(1));
    console.log(`[${m.id}] llama.cpp numerics vs llama.cpp:`, parity);
    expectWithin(parity, m.llamaCppNumerics);
  }, 900_000);

  it(`the exact export (what transformers.js loads) agrees on next-token logits over ${PARITY_POSITIONS} positions`, async () => {
    const parity = compareLogits(reference, await exact.logits(tokens), llama.model.vocabSize, tokens.slice(1));
    console.log(`[${m.id}] exact vs llama.cpp:`, parity);
    expectWithin(parity, m.exact);
  }, 900_000);

  it("the exact export matches llama.cpp on an F32 copy of the weights (llama-quantize) closer than llama.cpp matches itself across precisions", async () => {
    const f32 = await createLlamaCppBackend({ modelPath: await f32Gguf(path, inject("llamaToolsDir")), contextSize: 1024, threads: 2 });
    let f32Logits: Float32Array;
    try {
      expect(f32.model.vocabSize).toBe(llama.model.vocabSize);
      expect(await f32.tokenize("Hello there, how are you?")).toEqual(await llama.tokenize("Hello there, how are you?"));
      f32Logits = await f32.evaluateLogits({ tokens });
    } finally {
      await f32.dispose();
    }
    const vocab = llama.model.vocabSize;
    const graph = compareLogits(f32Logits, await exact.logits(tokens), vocab, tokens.slice(1));
    const selfAcrossPrecisions = compareLogits(f32Logits, reference, vocab, tokens.slice(1));
    console.log(`[${m.id}] llama.cpp F32 vs exact export:`, graph);
    console.log(`[${m.id}] llama.cpp F32 vs llama.cpp on the GGUF:`, selfAcrossPrecisions);
    expectWithin(graph, m.exactVsF32);
    expect(graph.top1Agreement).toBeGreaterThan(selfAcrossPrecisions.top1Agreement);
    expect(graph.meanAbsDiff).toBeLessThan(selfAcrossPrecisions.meanAbsDiff / 5);
  }, 900_000);

  it("continues chat prompts greedily like llama.cpp (64 tokens)", async () => {
    const identical = { exact: 0, emulated: 0 };
    const prefixes: Record<keyof typeof identical, number[]> = { exact: [], emulated: [] };
    for (const question of GREEDY_PROMPTS) {
      // Base models without a chat template continue the plain question.
      const prompt = llama.model.chatTemplate ? llama.formatChat([{ role: "user", content: question }]) : question;
      if (llama.model.chatTemplate) expect(exact.formatChat([{ role: "user", content: question }])).toBe(prompt);
      const a = await llama.generate(prompt, { maxTokens: 64 });
      for (const [name, onnx] of [["exact", exact], ["emulated", emulated]] as const) {
        const b = await onnx.generate(prompt, { maxTokens: 64 });
        if (a.tokens.join() === b.tokens.join()) identical[name]++;
        let common = 0;
        while (common < Math.min(a.tokens.length, b.tokens.length) && a.tokens[common] === b.tokens[common]) common++;
        prefixes[name].push(common);
      }
    }
    for (const name of ["exact", "emulated"] as const) {
      console.log(`[${m.id}] greedy 64-token continuations identical (${name}): ${identical[name]}/${GREEDY_PROMPTS.length}; common prefix lengths ${prefixes[name].join(", ")}`);
    }
    // One differing small-margin token sends greedy decoding elsewhere; the floor records the
    // measured minimum over the three models, not the goal.
    expect(identical.exact).toBeGreaterThanOrEqual(1);
    expect(identical.emulated).toBeGreaterThanOrEqual(1);
  }, 1_800_000);
});
