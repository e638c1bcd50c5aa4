/**
 * Speed of the ONNX backend (fp32 and q4 exports) against llama.cpp on the same GGUF, in one run:
 * prompt (prefill) and decode tokens/s and CPU time per decoded token, the engines interleaved rep
 * by rep (the order rotates), so that each rep's ratio compares runs seconds apart on a machine
 * whose load moves. The ONNX graphs run in both operator sets (`ops: "contrib"`, the default export,
 * and `"standard"`, plain ONNX ops), so the fused kernels' gain is measured in the same run.
 *   npx tsx --conditions=@emosteer/source packages/engine-parity/scripts/onnx-bench.ts [model-id] [--reps N] [--threads N] [--decode N] [--dry]
 * Writes `speed.onnx_vs_llama_cpp_decode`, `speed.onnx_fp32_vs_llama_cpp_decode` and
 * `speed.onnx_bench` to benchmarks/engines.json and the "onnx-bench" section of
 * benchmarks/ENGINES.md (not with --dry).
 */
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { createOnnxBackend } from "@emosteer/backend-onnx";
import type { SteeringBackend } from "@emosteer/core";
import { writeJsonKey, writeMarkdownSection } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { exportGgufToOnnx, type GraphOps, type Precision } from "@emosteer/onnx-export";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { reps: { type: "string" }, threads: { type: "string" }, decode: { type: "string" }, dry: { type: "boolean" } },
});
const modelId = positionals[0] ?? "smollm2-135m-instruct";
const reps = Number(values.reps ?? 8);
const threads = Number(values.threads ?? 1);
const decodeTokens = Number(values.decode ?? 48);
const COMMAND = `npx tsx --conditions=@emosteer/source packages/engine-parity/scripts/onnx-bench.ts ${modelId} --reps ${reps} --threads ${threads} --decode ${decodeTokens}`;
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const log = (line: string) => process.stderr.write(`${line}\n`);
const round = (x: number, digits: number) => Number(x.toFixed(digits));
const { path } = await ensureModel(modelId);

const PROMPT_TEXT = Array.from(
  { length: 12 },
  (_, i) => `Paragraph ${i + 1}: the committee met on a grey morning to review the budget, the schedule and the list of open questions.`,
).join("\n");

interface Engine {
  readonly key: string;
  readonly label: string;
  readonly backend: SteeringBackend;
  readonly bytes: number;
}

interface Sample {
  readonly promptTokPerS: number;
  readonly decodeTokPerS: number;
  /** Process CPU time (all threads) from the first generated token to the last, per decoded token. */
  readonly cpuMsPerToken: number;
  readonly tokens: number;
}

/** One greedy generation of `decodeTokens` tokens; decode figures from the first token to the last. */
async function sample(backend: SteeringBackend, prompt: string): Promise<Sample> {
  let cpuAtFirst: NodeJS.CpuUsage | null = null;
  const result = await backend.generate(prompt, {
    maxTokens: decodeTokens,
    onToken: () => {
      cpuAtFirst ??= process.cpuUsage();
    },
  });
  const cpu = process.cpuUsage(cpuAtFirst ?? undefined);
  const decoded = result.timings.generatedTokens - 1;
  return {
    promptTokPerS: (result.timings.promptTokens / result.timings.promptMs) * 1000,
    decodeTokPerS: (decoded / result.timings.decodeMs) * 1000,
    cpuMsPerToken: (cpu.user + cpu.system) / 1000 / decoded,
    tokens: result.timings.generatedTokens,
  };
}

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return s[lo]! + (s[Math.ceil(at)]! - s[lo]!) * (at - lo);
};
const summary = (xs: readonly number[], digits = 3) => ({
  median: round(quantile(xs, 0.5), digits),
  q1: round(quantile(xs, 0.25), digits),
  q3: round(quantile(xs, 0.75), digits),
  min: round(Math.min(...xs), digits),
  max: round(Math.max(...xs), digits),
});

const engines: Engine[] = [];
const llama = await createLlamaCppBackend({ modelPath: path, contextSize: 2048, threads });
engines.push({ key: "llama_cpp", label: "llama.cpp (GGUF)", backend: llama, bytes: 0 });
for (const precision of ["q4", "fp32"] as Precision[])
  for (const ops of ["contrib", "standard"] as GraphOps[]) {
    log(`exporting ${precision} (${ops}) ...`);
    const exported = await exportGgufToOnnx({ ggufPath: path, precision, ops });
    const backend = await createOnnxBackend({ modelDir: exported.modelDir, threads });
    const label = `ONNX ${precision === "q4" ? "4-bit" : "fp32"}, ${ops === "contrib" ? "contrib ops" : "standard ops"}`;
    engines.push({ key: `onnx_${precision}_${ops}`, label, backend, bytes: exported.bytes });
  }

const prompt = llama.formatChat([{ role: "user", content: PROMPT_TEXT }]);
const loadBefore = loadavg().map((x) => round(x, 2));
const started = new Date().toISOString();
const cpuStart = process.cpuUsage();
const wallStart = performance.now();
log(
  `${modelId}: ${reps} reps × ${engines.length} engines, ${threads} thread(s), ${decodeTokens}-token decodes, load ${loadBefore.join(" ")}`,
);
for (const engine of engines) await sample(engine.backend, prompt); // warm-up (first-run allocations)
const samples = new Map<string, Sample[]>(engines.map((e) => [e.key, []]));
for (let rep = 0; rep < reps; rep++) {
  // Rotate the order so that no engine always runs right after the same neighbour.
  const order = engines.map((_, i) => engines[(i + rep) % engines.length]!);
  for (const engine of order) samples.get(engine.key)!.push(await sample(engine.backend, prompt));
  const line = engines.map((e) => `${e.key} ${samples.get(e.key)!.at(-1)!.decodeTokPerS.toFixed(1)}`).join(", ");
  log(`rep ${rep + 1}/${reps}: decode tok/s ${line} (load ${loadavg()[0]!.toFixed(1)})`);
}
const cpuTotal = process.cpuUsage(cpuStart);
const wallS = (performance.now() - wallStart) / 1000;
const loadAfter = loadavg().map((x) => round(x, 2));
for (const engine of engines) await engine.backend.dispose();

const llamaSamples = samples.get("llama_cpp")!;
/** Per rep: this engine's decode tok/s over llama.cpp's in the same rep (and CPU ms/token the other way round). */
const ratios = (key: string) => ({
  decode: samples.get(key)!.map((s, i) => s.decodeTokPerS / llamaSamples[i]!.decodeTokPerS),
  cpu: samples.get(key)!.map((s, i) => llamaSamples[i]!.cpuMsPerToken / s.cpuMsPerToken),
  prompt: samples.get(key)!.map((s, i) => s.promptTokPerS / llamaSamples[i]!.promptTokPerS),
});
const perEngine = Object.fromEntries(
  engines.map((e) => {
    const s = samples.get(e.key)!;
    const r = ratios(e.key);
    return [
      e.key,
      {
        label: e.label,
        bytes: e.bytes,
        decode_tok_per_s: summary(
          s.map((x) => x.decodeTokPerS),
          1,
        ),
        prompt_tok_per_s: summary(
          s.map((x) => x.promptTokPerS),
          1,
        ),
        cpu_ms_per_token: summary(
          s.map((x) => x.cpuMsPerToken),
          2,
        ),
        decode_ratio_vs_llama_cpp: summary(r.decode),
        cpu_ratio_vs_llama_cpp: summary(r.cpu),
        prompt_ratio_vs_llama_cpp: summary(r.prompt),
        tokens_min: Math.min(...s.map((x) => x.tokens)),
      },
    ];
  }),
);
const q4 = perEngine.onnx_q4_contrib!;
const fp32 = perEngine.onnx_fp32_contrib!;
for (const [key, e] of Object.entries(perEngine))
  log(
    `${key}: decode ${e.decode_tok_per_s.median} tok/s, ${e.cpu_ms_per_token.median} CPU ms/token, ratio ${e.decode_ratio_vs_llama_cpp.median} [${e.decode_ratio_vs_llama_cpp.min}, ${e.decode_ratio_vs_llama_cpp.max}], CPU ratio ${e.cpu_ratio_vs_llama_cpp.median}`,
  );
if (values.dry) process.exit(0);

const jsonPath = join(repoRoot, "benchmarks", "engines.json");
await writeJsonKey(jsonPath, "speed.onnx_vs_llama_cpp_decode", q4.decode_ratio_vs_llama_cpp.median);
await writeJsonKey(jsonPath, "speed.onnx_fp32_vs_llama_cpp_decode", fp32.decode_ratio_vs_llama_cpp.median);
await writeJsonKey(jsonPath, "speed.onnx_bench", {
  model: modelId,
  date: started,
  command: COMMAND,
  reps,
  threads,
  decode_tokens: decodeTokens,
  load_before: loadBefore,
  load_after: loadAfter,
  process_cpu_s: round((cpuTotal.user + cpuTotal.system) / 1e6, 1),
  wall_s: round(wallS, 1),
  targets: { onnx_vs_llama_cpp_decode: 1.0, onnx_fp32_vs_llama_cpp_decode: 0.7 },
  engines: perEngine,
});

const mib = (bytes: number) => (bytes ? `${(bytes / 2 ** 20).toFixed(0)} MiB` : "—");
const spread = (s: { median: number; min: number; max: number }, digits = 2) =>
  `${s.median.toFixed(digits)} [${s.min.toFixed(digits)}–${s.max.toFixed(digits)}]`;
const rows = engines.map((e) => {
  const r = perEngine[e.key]!;
  const vs = e.key === "llama_cpp" ? "1" : spread(r.decode_ratio_vs_llama_cpp);
  const cpuVs = e.key === "llama_cpp" ? "1" : spread(r.cpu_ratio_vs_llama_cpp);
  return `| ${e.label} | ${spread(r.prompt_tok_per_s, 1)} | ${spread(r.decode_tok_per_s, 1)} | ${vs} | ${r.cpu_ms_per_token.median.toFixed(2)} | ${cpuVs} | ${mib(e.bytes)} |`;
});
const verdict = (ratio: number, target: number) => (ratio >= target ? "**met**" : "not met");
await writeMarkdownSection(
  join(repoRoot, "benchmarks", "ENGINES.md"),
  "onnx-bench",
  "packages/engine-parity/scripts/onnx-bench.ts",
  `## ONNX (fp32 and 4-bit) vs llama.cpp, same model, same run

\`${COMMAND}\` (one run, ${started.slice(0, 16)} UTC, ${modelId} Q4_1 GGUF, ${threads} thread(s) for every engine;
load average ${loadBefore.join(" / ")} before, ${loadAfter.join(" / ")} after, on 2 cores shared with other jobs;
the process used ${round((cpuTotal.user + cpuTotal.system) / 1e6, 0)} CPU-s in ${round(wallS, 0)} s of wall time).
${reps} reps; in each rep every engine generates once, greedily, ${decodeTokens} tokens after a prompt of about 350 tokens,
in an order that rotates from rep to rep. Decode tok/s and CPU time (process, all threads) run from the first
generated token to the last. Ratios are taken within each rep (engine over llama.cpp; CPU: llama.cpp's CPU ms per
token over the engine's), then summarised: median [min–max] over the ${reps} reps. Under this load the wall-time
figures move with what else runs; the CPU-time ratio measures work and moves less.

| engine | prompt tok/s | decode tok/s | decode × llama.cpp | CPU ms/token | CPU × llama.cpp (work) | size on disk |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join("\n")}

Targets (issue 17): 4-bit decode ≥ 1.0× llama.cpp (\`speed.onnx_vs_llama_cpp_decode\` = ${q4.decode_ratio_vs_llama_cpp.median}: ${verdict(q4.decode_ratio_vs_llama_cpp.median, 1)}),
fp32 ≥ 0.7× (\`speed.onnx_fp32_vs_llama_cpp_decode\` = ${fp32.decode_ratio_vs_llama_cpp.median}: ${verdict(fp32.decode_ratio_vs_llama_cpp.median, 0.7)}).
"contrib ops" is the default export (format 7): onnxruntime's SimplifiedLayerNormalization,
SkipSimplifiedLayerNormalization and RotaryEmbedding, one matmul for Q·K·V and one for gate·up, 4-bit MatMulNBits
without zero points (symmetric int8-activation kernel, accuracy_level 4; the Q4_1 block minima as a block-sum
product); attention stays in plain ops (onnxruntime's CPU GroupQueryAttention refuses the batched prompt chunks
after a KV cache that batched captures run); "standard ops" is the same network from plain ONNX ops
(\`ops: "standard"\`).
Not yet done: the KV cache is still copied into each run's present tensors (Concat of past and new keys; no
shared past/present buffer), and every step's outputs are fresh buffers (no bound outputs).`,
);
log("wrote speed.onnx_vs_llama_cpp_decode, speed.onnx_fp32_vs_llama_cpp_decode, speed.onnx_bench and the onnx-bench section");
