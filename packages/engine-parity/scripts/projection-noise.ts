/**
 * The noise floor of the steering-effect test (test/llamacpp-vector-on-transformers.test.ts): how
 * much the test's measure (mean projection of the response on the joy EV at layer 15, judged by
 * the unsteered transformers.js model; NRC-lexicon joy words per 100) moves when the model is
 * pushed by a vector that is NOT joy. Extracts joy on llama.cpp as the test does, then steers
 * llama.cpp with joy and with K random vectors of joy's per-layer norms (seeded), at the test's α,
 * on the test's prompts, and prints each shift from α = 0.
 *   npx tsx --conditions=@emosteer/source packages/engine-parity/scripts/projection-noise.ts [--random K]
 */
import { EmotionVector, extractEmotionVectors } from "@emosteer/core";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { createTransformersBackend } from "@emosteer/backend-transformers";
import { loadLexicon } from "@emosteer/eval";
import { DEFAULT_MODEL_ID, ensureModel } from "@emosteer/models";
import { exportGgufToOnnx } from "@emosteer/onnx-export";
import { evProjection } from "../src/ev-projection.js";
import { STEERING_EFFECT } from "../src/steering-effect.js";

const k = Number(process.argv[process.argv.indexOf("--random") + 1] ?? 6) || 6;
const { path } = await ensureModel(DEFAULT_MODEL_ID);
const llama = await createLlamaCppBackend({ modelPath: path, contextSize: 1024, threads: 2 });
const joy = (await extractEmotionVectors(llama, { emotions: ["joy"], maxQueries: STEERING_EFFECT.extractionQueries })).get("joy")!;
const { modelDir } = await exportGgufToOnnx({ ggufPath: path, precision: "fp32" });
const judge = await createTransformersBackend({ modelDir });
const lexicon = await loadLexicon();

let state = 12345;
const gauss = () => {
  // Box–Muller over a 32-bit LCG: deterministic, no dependency.
  const u = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 1) / 4294967297;
  };
  return Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
};
const randomLike = (i: number) =>
  new EmotionVector({
    ...joy,
    provenance: { ...joy.provenance, corpus: `random-${i}` },
    directions: joy.directions.map((d) => {
      const norm = Math.hypot(...d);
      if (norm === 0) return new Float32Array(d.length);
      const r = Float32Array.from(d, () => gauss());
      const rn = Math.hypot(...r);
      return r.map((x) => (x / rn) * norm);
    }),
  });

async function measure(vector: EmotionVector, alpha: number): Promise<{ projection: number; lexicon: number }> {
  let projection = 0;
  let joyWords = 0;
  for (const content of STEERING_EFFECT.prompts) {
    const prompt = llama.formatChat([{ role: "user", content }]);
    const { text } = await llama.generate(prompt, {
      maxTokens: STEERING_EFFECT.tokens,
      steering: alpha === 0 ? null : { terms: [{ vector, alpha }] },
    });
    projection += (await evProjection(judge, joy, STEERING_EFFECT.probeLayer, prompt, text)) / STEERING_EFFECT.prompts.length;
    joyWords += lexicon.score(text).perHundredWords.joy / STEERING_EFFECT.prompts.length;
  }
  return { projection, lexicon: joyWords };
}

const base = await measure(joy, 0);
console.log(JSON.stringify({ vector: "none", alpha: 0, ...base }));
for (const [name, vector] of [
  ["joy", joy],
  ["-joy", null],
  ...Array.from({ length: k }, (_, i) => [`random-${i}`, randomLike(i)]),
] as const) {
  for (const alpha of STEERING_EFFECT.alphas.filter((a) => a !== 0)) {
    const m = vector ? await measure(vector, alpha) : await measure(joy, -alpha);
    console.log(
      JSON.stringify({
        vector: name,
        alpha,
        projection: +m.projection.toFixed(3),
        shift: +(m.projection - base.projection).toFixed(3),
        lexicon: +m.lexicon.toFixed(2),
        lexiconShift: +(m.lexicon - base.lexicon).toFixed(2),
      }),
    );
  }
}
await judge.dispose();
await llama.dispose();
