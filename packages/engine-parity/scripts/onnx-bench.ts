/**
 * Speed of the ONNX backend (fp32 and q4 exports) against llama.cpp on the same GGUF, in one run:
 * prompt (prefill) and decode tokens/s, unsteered and steered, plus export size.
 *   npx tsx --conditions=@emosteer/source packages/engine-parity/scripts/onnx-bench.ts [model-id] [--reps N] [--threads N]
 */
import { parseArgs } from "node:util";
import type { SteeringBackend } from "@emosteer/core";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { createOnnxBackend } from "@emosteer/backend-onnx";
import { ensureModel } from "@emosteer/models";
import { exportGgufToOnnx } from "@emosteer/onnx-export";
import { benchSteering } from "../src/bench-steering.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { reps: { type: "string" }, threads: { type: "string" }, decode: { type: "string" } },
});
const modelId = positionals[0] ?? "smollm2-135m-instruct";
const reps = Number(values.reps ?? 2);
const threads = Number(values.threads ?? 2);
const decodeTokens = Number(values.decode ?? 48);
const { path } = await ensureModel(modelId);

const PROMPT_TEXT = Array.from(
  { length: 12 },
  (_, i) => `Paragraph ${i + 1}: the committee met on a grey morning to review the budget, the schedule and the list of open questions.`,
).join("\n");

interface Row {
  engine: string;
  promptTokPerS: number;
  decodeTokPerS: number;
  steeredDecodeTokPerS: number;
}

async function measure(engine: string, backend: SteeringBackend): Promise<Row> {
  const prompt = backend.formatChat([{ role: "user", content: PROMPT_TEXT }]);
  const steering = benchSteering(backend, 42);
  const best = { prompt: 0, decode: 0, steered: 0 };
  await backend.generate(prompt, { maxTokens: 2 }); // warm-up
  for (let r = 0; r < reps; r++) {
    // Decode speed needs a fixed length: stop strings never match, so it runs to maxTokens
    // unless the model ends its turn (then the measured tokens are fewer, still per-token fair).
    const plain = await backend.generate(prompt, { maxTokens: decodeTokens });
    const steered = await backend.generate(prompt, { maxTokens: decodeTokens, steering });
    best.prompt = Math.max(best.prompt, (plain.timings.promptTokens / plain.timings.promptMs) * 1000);
    best.decode = Math.max(best.decode, ((plain.timings.generatedTokens - 1) / plain.timings.decodeMs) * 1000);
    best.steered = Math.max(best.steered, ((steered.timings.generatedTokens - 1) / steered.timings.decodeMs) * 1000);
  }
  return { engine, promptTokPerS: best.prompt, decodeTokPerS: best.decode, steeredDecodeTokPerS: best.steered };
}

const rows: Row[] = [];
const llama = await createLlamaCppBackend({ modelPath: path, contextSize: 2048, threads });
rows.push(await measure("llama.cpp", llama));
await llama.dispose();
const sizes: Record<string, number> = {};
for (const precision of ["fp32", "q4"] as const) {
  const exported = await exportGgufToOnnx({ ggufPath: path, precision });
  sizes[precision] = exported.bytes;
  const onnx = await createOnnxBackend({ modelDir: exported.modelDir, threads });
  rows.push(await measure(`onnx ${precision}`, onnx));
  await onnx.dispose();
}

console.log(`model ${modelId}, ${threads} threads, best of ${reps}, ${decodeTokens}-token decodes`);
console.log("engine       prompt tok/s  decode tok/s  steered decode tok/s  steering overhead");
for (const r of rows) {
  const overhead = ((r.decodeTokPerS / r.steeredDecodeTokPerS - 1) * 100).toFixed(1);
  console.log(
    `${r.engine.padEnd(12)} ${r.promptTokPerS.toFixed(1).padStart(12)}  ${r.decodeTokPerS.toFixed(1).padStart(12)}  ${r.steeredDecodeTokPerS.toFixed(1).padStart(20)}  ${overhead.padStart(16)} %`,
  );
}
const base = rows[0]!;
for (const r of rows.slice(1))
  console.log(
    `${r.engine}: prompt ${(r.promptTokPerS / base.promptTokPerS).toFixed(2)}× llama.cpp, decode ${(r.decodeTokPerS / base.decodeTokPerS).toFixed(2)}×`,
  );
for (const [precision, bytes] of Object.entries(sizes)) console.log(`export ${precision}: ${(bytes / 2 ** 20).toFixed(1)} MiB`);
