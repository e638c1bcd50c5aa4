// A vector file extracted on llama.cpp, applied by the transformers.js backend (and by llama.cpp
// itself), moves the emotion the same way: at α = 1 and 2 (net-shift injection, where the effect
// is real) the response's projection onto the EV and its NRC lexicon joy score rise on both
// engines by more than steering with a random vector of the same size moves them.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeVectorFile, encodeVectorFile, extractEmotionVectors, type SteeringBackend } from "@emosteer/core";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { createTransformersBackend } from "@emosteer/backend-transformers";
import { loadLexicon, type LexiconScorer } from "@emosteer/eval";
import { DEFAULT_MODEL_ID, ensureModel } from "@emosteer/models";
import { exportGgufToOnnx } from "@emosteer/onnx-export";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evProjection } from "../src/ev-projection.js";
import { STEERING_EFFECT } from "../src/steering-effect.js";

const { prompts: PROMPTS, alphas: ALPHAS, tokens: TOKENS, probeLayer: PROBE_LAYER } = STEERING_EFFECT;
/**
 * The rise from α = 0 (at α = 1 and at α = 2) that counts as steering, in the test's two measures.
 * Measured noise (scripts/projection-noise.ts, llama.cpp on AVX2, these prompts, tokens and α):
 * steering with 6 random vectors of joy's per-layer norms moved the mean projection by 5.3, 5.7,
 * −1.7, −1.5, −0.1, 1.8, 4.0, 0.4, −0.0, −3.3, 3.2, −2.9 (max 5.7, mean 0.9, sd 3.0) and the
 * lexicon joy score by −0.3 … −9.2 (never up: a push off the joy direction derails the text);
 * joy itself moved them by +12.3 / +18.7 and +6.2 / +6.9, and −joy by −10.6 / −14.7 and −9.2.
 * The thresholds sit above every random shift and below joy's smallest rise. (The old grid, α =
 * 0.04 and 0.08 from before net-shift injection, moved the projection by less than this noise.)
 */
const MIN_PROJECTION_RISE = 8;
const MIN_LEXICON_RISE = 2;

let work: string;
let llama: SteeringBackend;
let transformers: SteeringBackend;
let vectorFile: string;
let lexicon: LexiconScorer;

beforeAll(async () => {
  const { path } = await ensureModel(DEFAULT_MODEL_ID);
  work = await mkdtemp(join(tmpdir(), "emosteer-llama-vector-"));
  llama = await createLlamaCppBackend({ modelPath: path, contextSize: 1024, threads: 2 });
  const joy = (await extractEmotionVectors(llama, { emotions: ["joy"], maxQueries: STEERING_EFFECT.extractionQueries })).get("joy")!;
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
          const { text } = await backend.generate(prompt, {
            maxTokens: TOKENS,
            steering: alpha === 0 ? null : { terms: [{ vector: joy, alpha }] },
          });
          // One measuring instrument for both engines' texts: the unsteered transformers.js model.
          projected += (await evProjection(transformers, joy, PROBE_LAYER, prompt, text)) / PROMPTS.length;
          joyWords += lexicon.score(text).perHundredWords.joy / PROMPTS.length;
        }
        figures[engine]!.projection.push(projected);
        figures[engine]!.lexicon.push(joyWords);
      }
    }
    console.log(
      `[llama.cpp EV] α = ${ALPHAS.join(", ")}\n` +
        Object.entries(figures)
          .map(
            ([engine, f]) =>
              `  ${engine}: projection on EV (layer ${PROBE_LAYER}) ${f.projection.map((x) => x.toFixed(2)).join(" → ")}; lexicon joy /100 words ${f.lexicon.map((x) => x.toFixed(1)).join(" → ")}`,
          )
          .join("\n"),
    );
    for (const [engine, { projection: p, lexicon: l }] of Object.entries(figures)) {
      for (const k of [1, 2]) {
        expect(p[k]! - p[0]!, `${engine}: projection rise at α = ${ALPHAS[k]}`).toBeGreaterThan(MIN_PROJECTION_RISE);
        expect(l[k]! - l[0]!, `${engine}: lexicon joy rise at α = ${ALPHAS[k]}`).toBeGreaterThan(MIN_LEXICON_RISE);
      }
    }
  }, 900_000);
});
