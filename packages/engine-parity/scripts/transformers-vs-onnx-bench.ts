/**
 * Decode speed of the transformers.js backend against the raw ONNX backend on the same exported
 * folder, in one run (engines alternate, so machine load hits both alike).
 *   npx tsx --conditions=@emosteer/source packages/engine-parity/scripts/transformers-vs-onnx-bench.ts [fp32|q4] [--rounds N] [--tokens N]
 */
import { parseArgs } from "node:util";
import { EmotionVector, type SteeringBackend, type SteeringSpec } from "@emosteer/core";
import { createOnnxBackend } from "@emosteer/backend-onnx";
import { createTransformersBackend } from "@emosteer/backend-transformers";
import { DEFAULT_MODEL_ID, ensureModel } from "@emosteer/models";
import { exportGgufToOnnx, type Precision } from "@emosteer/onnx-export";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { rounds: { type: "string" }, tokens: { type: "string" } } });
const precision = (positionals[0] ?? "fp32") as Precision;
const rounds = Number(values.rounds ?? 5);
const maxTokens = Number(values.tokens ?? 64);

const { path } = await ensureModel(DEFAULT_MODEL_ID);
const { modelDir } = await exportGgufToOnnx({ ggufPath: path, precision });
const engines: [string, SteeringBackend][] = [
  ["onnx", await createOnnxBackend({ modelDir })],
  ["transformers.js", await createTransformersBackend({ modelDir })],
];
const model = engines[0]![1].model;
// Speed does not depend on the direction's values; a fixed, gentle one keeps the text fluent.
const probe = new EmotionVector({
  emotion: "probe",
  model,
  directions: Array.from({ length: model.layerCount }, (_, layer) =>
    Float32Array.from({ length: model.hiddenSize }, (_, i) => (layer === 0 ? 0 : 0.02 * Math.sin(i + layer))),
  ),
  provenance: {
    method: "algebra",
    settings: {},
    samples: 0,
    corpus: "bench",
    corpusHash: "0000000000000000",
    backend: "bench",
    createdAt: new Date(0).toISOString(),
  },
});
const conditions: [string, SteeringSpec | null][] = [
  ["unsteered", null],
  ["steered", { terms: [{ vector: probe, alpha: 1 }] }],
];
const prompt = engines[0]![1].formatChat([
  { role: "user", content: "Write a long, detailed story about a lighthouse keeper and a storm." },
]);

const samples = new Map<string, number[]>();
const tokenCounts = new Set<number>();
for (let round = -1; round < rounds; round++) {
  for (const [condition, steering] of conditions) {
    // Alternate which engine goes first, so neither always runs on a warmer cache.
    const order = round % 2 === 0 ? engines : [...engines].reverse();
    for (const [engine, backend] of order) {
      const { tokens, timings } = await backend.generate(prompt, { maxTokens, steering });
      if (round < 0) continue; // warm-up
      tokenCounts.add(tokens.length);
      const key = `${engine}|${condition}`;
      samples.set(key, [...(samples.get(key) ?? []), (1000 * (tokens.length - 1)) / timings.decodeMs]);
    }
  }
  if (round >= 0) process.stderr.write(`round ${round + 1}/${rounds}\n`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `decode tokens/s, ${precision}, ${maxTokens} tokens (generated ${[...tokenCounts].join("/")}), median of ${rounds} rounds, ${modelDir}`,
);
for (const [condition] of conditions) {
  const onnx = median(samples.get(`onnx|${condition}`)!);
  const tjs = median(samples.get(`transformers.js|${condition}`)!);
  console.log(
    `  ${condition.padEnd(10)} onnx ${onnx.toFixed(1).padStart(6)}   transformers.js ${tjs.toFixed(1).padStart(6)}   ratio ${(tjs / onnx).toFixed(3)}   overhead ${((1 - tjs / onnx) * 100).toFixed(1)} %`,
  );
}
for (const [, backend] of engines) await backend.dispose();
