// ONNX export (@emosteer/onnx-export + backend-onnx) against llama.cpp (backend-llamacpp) on the
// same GGUF: tokenisation, next-token logits over real text, and greedy continuations.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { SteeringBackend } from "@emosteer/core";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { createOnnxBackend, type OnnxSteeringBackend } from "@emosteer/backend-onnx";
import { ensureModel } from "@emosteer/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { llamaCppLogits } from "../src/llama-cpp-logits.js";
import { compareLogits } from "../src/logit-parity.js";
import { tokenizerStressStrings } from "../src/tokenizer-strings.js";

/**
 * Measured floors per architecture (see the logged numbers): llama.cpp rounds every matmul's
 * activations to int8 blocks (Q8_0/Q8_1/Q8_K) and keeps an fp16 KV cache, while the export computes
 * in fp32 on the exact dequantized weights, so positions whose top-2 margin is small can differ.
 */
const MODELS = [
  { id: "smollm2-135m-instruct", architecture: "llama", minTop1: 0.93, maxLogProbDiff: 1 },
  { id: "qwen2.5-coder-0.5b-instruct", architecture: "qwen2", minTop1: 0.95, maxLogProbDiff: 1 },
  { id: "gemma3-270m", architecture: "gemma3", minTop1: 0.9, maxLogProbDiff: 2.5 },
] as const;
const LOGIT_POSITIONS = 520;
const GREEDY_PROMPTS = ["Tell me about your weekend.", "What is the capital of France?", "How do I boil an egg?", "Give me three tips for learning a language."];

async function realText(): Promise<string> {
  const corpusPath = createRequire(import.meta.url).resolve("@emosteer/core/prompts/contrast-corpus.json");
  const corpus = JSON.parse(await readFile(corpusPath, "utf8")) as { items: { neutral: string; emotional: Record<string, string> }[] };
  return corpus.items
    .slice(0, 12)
    .map((item) => `${item.neutral}\n${Object.values(item.emotional)[0] ?? ""}`)
    .join("\n\n");
}

describe.each(MODELS)("$id ($architecture): ONNX fp32 vs llama.cpp", ({ id, minTop1, maxLogProbDiff }) => {
  let llama: SteeringBackend;
  let onnx: OnnxSteeringBackend;

  beforeAll(async () => {
    const { path } = await ensureModel(id);
    llama = await createLlamaCppBackend({ modelPath: path, contextSize: 1024, threads: 2 });
    onnx = await createOnnxBackend({ modelPath: path, precision: "fp32", threads: 2 });
  });

  afterAll(async () => {
    await llama?.dispose();
    await onnx?.dispose();
  });

  it("identifies the same model", () => {
    expect(onnx.model).toMatchObject({
      architecture: llama.model.architecture,
      layerCount: llama.model.layerCount,
      hiddenSize: llama.model.hiddenSize,
      fingerprint: llama.model.fingerprint,
    });
  });

  it("tokenises ≥ 1,000 strings exactly like llama.cpp", { timeout: 900_000 }, async () => {
    const strings = tokenizerStressStrings(1200);
    const mismatches: string[] = [];
    for (const text of strings) {
      const [a, b] = await Promise.all([llama.tokenize(text), onnx.tokenize(text)]);
      if (a.join() !== b.join()) mismatches.push(JSON.stringify(text));
    }
    console.log(`[${id}] tokenisation: ${strings.length - mismatches.length}/${strings.length} identical`, mismatches.slice(0, 5));
    expect(mismatches).toEqual([]);
  });

  it(`agrees on next-token logits over ${LOGIT_POSITIONS} positions of real text`, async () => {
    const tokens = (await llama.tokenize(await realText())).slice(0, LOGIT_POSITIONS);
    expect(tokens.length).toBe(LOGIT_POSITIONS);
    const a = await llamaCppLogits(llama, tokens);
    const b = await onnx.logits(tokens);
    const parity = compareLogits(a, b, llama.model.vocabSize, tokens.slice(1));
    console.log(`[${id}] logits:`, parity);
    expect(parity.top1Agreement).toBeGreaterThanOrEqual(minTop1);
    expect(parity.maxNextTokenLogProbDiff).toBeLessThan(maxLogProbDiff);
    expect(parity.meanAbsDiff).toBeLessThan(0.3);
  }, 900_000);

  it("continues most chat prompts greedily like llama.cpp (64 tokens)", async () => {
    let identical = 0;
    const prefixes: number[] = [];
    for (const question of GREEDY_PROMPTS) {
      // Base models without a chat template continue the plain question.
      const prompt = llama.model.chatTemplate ? llama.formatChat([{ role: "user", content: question }]) : question;
      if (llama.model.chatTemplate) expect(onnx.formatChat([{ role: "user", content: question }])).toBe(prompt);
      const [a, b] = [await llama.generate(prompt, { maxTokens: 64 }), await onnx.generate(prompt, { maxTokens: 64 })];
      if (a.tokens.join() === b.tokens.join()) identical++;
      let common = 0;
      while (common < Math.min(a.tokens.length, b.tokens.length) && a.tokens[common] === b.tokens[common]) common++;
      prefixes.push(common);
    }
    console.log(`[${id}] greedy 64-token continuations identical: ${identical}/${GREEDY_PROMPTS.length}; common prefix lengths ${prefixes.join(", ")}`);
    // Measured on SmolLM2: 1 of 4 identical (common prefixes 7, 0, 64, 19): one differing
    // small-margin token sends greedy decoding elsewhere. The floor records that, not the goal.
    expect(identical).toBeGreaterThanOrEqual(1);
  }, 1_800_000);
});
