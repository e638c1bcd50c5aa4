// A vector file extracted on llama.cpp, applied by the transformers.js backend (and by llama.cpp
// itself), moves the emotion the same way: the response's projection onto the EV and its NRC
// lexicon joy score rise with α on both engines.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeVectorFile, encodeVectorFile, extractEmotionVectors, type EmotionVector, type SteeringBackend } from "@emosteer/core";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { createTransformersBackend } from "@emosteer/backend-transformers";
import { loadLexicon, type LexiconScorer } from "@emosteer/eval";
import { DEFAULT_MODEL_ID, ensureModel } from "@emosteer/models";
import { exportGgufToOnnx } from "@emosteer/onnx-export";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const PROMPTS = [
  "Describe your morning in two sentences.",
  "What do you think about rainy weekends?",
  "Tell me about your neighbour.",
  "How was the train ride?",
];
const ALPHAS = [0, 0.04, 0.08];
const TOKENS = 32;
/** Layer whose residual is projected onto the EV: the middle of SmolLM2's 30 blocks. */
const PROBE_LAYER = 15;

let work: string;
let llama: SteeringBackend;
let transformers: SteeringBackend;
let vectorFile: string;
let lexicon: LexiconScorer;

beforeAll(async () => {
  const { path } = await ensureModel(DEFAULT_MODEL_ID);
  work = await mkdtemp(join(tmpdir(), "emosteer-llama-vector-"));
  llama = await createLlamaCppBackend({ modelPath: path, contextSize: 1024, threads: 2 });
  const joy = (await extractEmotionVectors(llama, { emotions: ["joy"], maxQueries: 8 })).get("joy")!;
  vectorFile = join(work, "joy.gguf");
  await writeFile(vectorFile, encodeVectorFile(joy));
  const { modelDir } = await exportGgufToOnnx({ ggufPath: path, precision: "fp32" });
  transformers = await createTransformersBackend({ modelDir });
  lexicon = await loadLexicon();
});

afterAll(async () => {
  await transformers?.dispose();
  await llama?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Mean over the response tokens of the PROBE_LAYER residual, projected on the EV's unit direction (teacher-forced, unsteered, on `judge`). */
async function projection(judge: SteeringBackend, vector: EmotionVector, prompt: string, response: string): Promise<number> {
  const promptTokens = await judge.tokenize(prompt);
  const tokens = [...promptTokens, ...(await judge.tokenize(response))];
  if (tokens.length === promptTokens.length) return 0;
  const capture = await judge.captureResiduals({ tokens, spanStart: promptTokens.length, spanEnd: tokens.length, layers: [PROBE_LAYER] });
  const direction = vector.directions[PROBE_LAYER]!;
  const norm = Math.hypot(...direction);
  let sum = 0;
  for (let p = 0; p < capture.positions; p++) {
    for (let i = 0; i < capture.hiddenSize; i++) sum += capture.data[0]![p * capture.hiddenSize + i]! * direction[i]!;
  }
  return sum / capture.positions / norm;
}

describe("a llama.cpp-extracted vector file on the transformers.js backend", () => {
  it("moves joy up with α on both engines", async () => {
    // Read back through core's decoder, bound to the model transformers.js loaded (same GGUF fingerprint).
    const joy = await decodeVectorFile(new Uint8Array(await readFile(vectorFile)), { expectedModel: transformers.model, name: vectorFile });
    const figures: Record<string, { projection: number[]; lexicon: number[] }> = {};
    for (const [engine, backend] of [
      ["llama.cpp", llama],
      ["transformers.js", transformers],
    ] as const) {
      figures[engine] = { projection: [], lexicon: [] };
      for (const alpha of ALPHAS) {
        let projected = 0;
        let joyWords = 0;
        for (const content of PROMPTS) {
          const prompt = backend.formatChat([{ role: "user", content }]);
          const { text } = await backend.generate(prompt, { maxTokens: TOKENS, steering: alpha === 0 ? null : { terms: [{ vector: joy, alpha }] } });
          // One measuring instrument for both engines' texts: the unsteered transformers.js model.
          projected += (await projection(transformers, joy, prompt, text)) / PROMPTS.length;
          joyWords += lexicon.score(text).perHundredWords.joy / PROMPTS.length;
        }
        figures[engine]!.projection.push(projected);
        figures[engine]!.lexicon.push(joyWords);
      }
    }
    console.log(
      `[llama.cpp EV] α = ${ALPHAS.join(", ")}\n` +
        Object.entries(figures)
          .map(([engine, f]) => `  ${engine}: projection on EV (layer ${PROBE_LAYER}) ${f.projection.map((x) => x.toFixed(2)).join(" → ")}; lexicon joy /100 words ${f.lexicon.map((x) => x.toFixed(1)).join(" → ")}`)
          .join("\n"),
    );
    for (const { projection: p, lexicon: l } of Object.values(figures)) {
      expect(p[1]!).toBeGreaterThan(p[0]!);
      expect(p[2]!).toBeGreaterThan(p[1]!);
      expect(l[2]!).toBeGreaterThan(l[0]!);
    }
  }, 900_000);
});
