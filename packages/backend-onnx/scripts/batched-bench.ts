/**
 * Batched steering on ONNX (issue 13): aggregate decode throughput of concurrent requests, each
 * steered differently, in one generation session (one session run per step) against serving them
 * one at a time and against the same number of concurrent unsteered requests; and the peak RSS
 * each additional concurrent sequence costs. Default model, fp32, greedy, `--tokens` per request.
 *
 *   node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-onnx/scripts/batched-bench.ts [--tokens 24] [--reps 1] [--out benchmarks]
 *
 * Writes benchmarks/engines.json keys batched.onnx.* and the "Batched steering" section of
 * benchmarks/ENGINES.md (`--out`: another folder, for a trial run). Ratios come from one run of
 * this script; the load average is recorded. The harness (prompts, mixes, clock, RSS probe) is
 * core/node's session-bench, shared with the llama.cpp bench.
 */
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  numberFlag,
  onePairJoyVector,
  peakRssDuring,
  round3 as r3,
  rssPerSequence,
  runInterleaved,
  SESSION_BENCH_PROMPTS,
  serveRequests,
  sessionBenchSpecs,
  writeJsonKey,
  writeMarkdownSection,
} from "@emosteer/core/node";
import type { SteeringSpec } from "@emosteer/core";
import { ensureModel } from "@emosteer/models";
import { createOnnxBackend, type OnnxSteeringBackend } from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../..");
const args = process.argv.slice(2);
const TOKENS = numberFlag(args, "tokens", 24);
const REPS = numberFlag(args, "reps", 1);
const RSS_CHILD = numberFlag(args, "rss-child", 0);
const OUT = args.includes("--out") ? resolve(args[args.indexOf("--out") + 1]!) : join(repoRoot, "benchmarks");

const log = (s: string) => process.stderr.write(`[batched-bench] ${s}\n`);

async function load(): Promise<{ backend: OnnxSteeringBackend; specs: SteeringSpec[] }> {
  const { path } = await ensureModel("smollm2-135m-instruct");
  const backend = await createOnnxBackend({ modelPath: path, precision: "fp32" });
  return { backend, specs: sessionBenchSpecs(await onePairJoyVector(backend, "bench")) };
}

/** n requests: one at a time through backend.generate, or all at once in one session. */
const serve = (backend: OnnxSteeringBackend, specs: readonly (SteeringSpec | null)[], mode: "sequential" | "concurrent") =>
  serveRequests(backend, specs, { mode, tokens: TOKENS, runName: "session run" });

if (RSS_CHILD > 0) {
  // Child: peak RSS of RSS_CHILD concurrent steered generations above the warmed-up model.
  const { backend, specs } = await load();
  await backend.generate(SESSION_BENCH_PROMPTS[0]!, { maxTokens: 4, steering: specs[0]! });
  const { baseMb, peakMb } = await peakRssDuring(() =>
    serve(backend, specs.slice(0, RSS_CHILD), RSS_CHILD === 1 ? "sequential" : "concurrent"),
  );
  process.stdout.write(`${JSON.stringify({ n: RSS_CHILD, baseMb, peakMb })}\n`);
  await backend.dispose();
  process.exit(0);
}

const loadBefore = loadavg();
const { backend, specs } = await load();
await backend.generate(SESSION_BENCH_PROMPTS[0]!, { maxTokens: 4 }); // warm-up
const arms = await runInterleaved(
  REPS,
  (
    [
      ["sequential_4", 4, true, "sequential"],
      ["concurrent_4", 4, true, "concurrent"],
      ["unsteered_4", 4, false, "concurrent"],
      ["sequential_8", 8, true, "sequential"],
      ["concurrent_8", 8, true, "concurrent"],
    ] as const
  ).map(([key, n, steered, mode]) => ({
    key,
    run: () =>
      serve(
        backend,
        specs.slice(0, n).map((s) => (steered ? s : null)),
        mode,
      ),
  })),
  log,
  "shared runs",
  () => loadavg()[0]!,
);
await backend.dispose();
const tps = (key: string) => arms.tps(key);
/** Tokens per CPU second of the whole process (onnxruntime's threads included): less sensitive to other processes than wall time. */
const cpuTps = (key: string) => arms.cpuTps(key);

log("peak RSS per concurrent sequence (one child process per batch size)…");
const { rss, slopeMb: slope } = await rssPerSequence({
  script: fileURLToPath(import.meta.url),
  sizes: [1, 2, 4, 8],
  childArgs: ["--tokens", String(TOKENS)],
  cwd: repoRoot,
  log,
});

const perRep = (a: string, b: string) => arms.perRep(a, b);
const figures = {
  speedup_vs_sequential_4: r3(tps("concurrent_4") / tps("sequential_4")),
  steered_vs_unsteered_4: r3(tps("concurrent_4") / tps("unsteered_4")),
  speedup_vs_sequential_8: r3(tps("concurrent_8") / tps("sequential_8")),
  rss_per_sequence_mb: +slope.toFixed(1),
  steered_vs_unsteered_4_cpu: r3(cpuTps("concurrent_4") / cpuTps("unsteered_4")),
};
const spread = {
  speedup_vs_sequential_4: perRep("concurrent_4", "sequential_4"),
  steered_vs_unsteered_4: perRep("concurrent_4", "unsteered_4"),
  speedup_vs_sequential_8: perRep("concurrent_8", "sequential_8"),
};
const loadAfter = loadavg();
const detail = {
  measuredAt: new Date().toISOString(),
  cpu: cpus()[0]?.model ?? "unknown",
  model: "smollm2-135m-instruct fp32",
  tokensPerRequest: TOKENS,
  reps: REPS,
  loadAverageBefore: loadBefore.map((x) => +x.toFixed(1)),
  loadAverageAfter: loadAfter.map((x) => +x.toFixed(1)),
  tokPerS: arms.tokPerS(),
  tokPerCpuS: arms.tokPerCpuS(),
  perRep: spread,
  runs: arms.runs,
  rss,
};
console.log(JSON.stringify({ figures, detail }, null, 2));

const jsonPath = join(OUT, "engines.json");
await writeJsonKey(jsonPath, "batched.onnx", { ...figures, detail });

const t = detail.tokPerS as Record<string, number>;
const body = [
  "## Batched steering",
  "",
  "Per-request steering in one forward pass on ONNX (issue 13): requests each steered differently run in one generation session",
  "(`backend.createSession({ parallelSequences })`), one session run per decode step with a `steering [batch, layers, hidden]` table;",
  `against serving them one at a time (\`backend.generate\`, batch 1) and against concurrent unsteered requests. ${detail.model}, greedy,`,
  `${TOKENS} tokens per request, aggregate tok/s = generated tokens / wall time including prompt passes, ${REPS} interleaved rep(s).`,
  "",
  "```",
  `node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-onnx/scripts/batched-bench.ts --tokens ${TOKENS} --reps ${REPS}`,
  "```",
  "",
  `Measured ${detail.measuredAt.slice(0, 16)} UTC on ${detail.cpu} (2 cores, shared): load average ${detail.loadAverageBefore.join(", ")} before, ${detail.loadAverageAfter.join(", ")} after.`,
  "",
  "| arm | aggregate tok/s (wall) | tok per CPU-second |",
  "| --- | --- | --- |",
  ...Object.entries(t).map(([k, v]) => `| ${k.replace("_", " ")} | ${v} | ${(detail.tokPerCpuS as Record<string, number>)[k]} |`),
  "",
  "| figure (engines.json `batched.onnx.*`) | value | per rep | target |",
  "| --- | --- | --- | --- |",
  `| speedup_vs_sequential_4 | ${figures.speedup_vs_sequential_4} | ${spread.speedup_vs_sequential_4.join(", ")} | ≥ 2 |`,
  `| steered_vs_unsteered_4 | ${figures.steered_vs_unsteered_4} | ${spread.steered_vs_unsteered_4.join(", ")} | ≥ 0.95 |`,
  `| steered_vs_unsteered_4_cpu (CPU time) | ${figures.steered_vs_unsteered_4_cpu} | | |`,
  `| speedup_vs_sequential_8 | ${figures.speedup_vs_sequential_8} | ${spread.speedup_vs_sequential_8.join(", ")} | (reported) |`,
  `| rss_per_sequence_mb (slope of peak RSS over 1, 2, 4, 8 concurrent) | ${figures.rss_per_sequence_mb} | | (reported) |`,
  "",
  "Steered and unsteered concurrent runs execute the same graph (the unsteered rows feed a zero table), so their ratio measures",
  "the machine's noise more than a cost; the per-rep column shows how far one rep moves under this load.",
  "",
  `Peak RSS above the warmed-up model, MB: ${rss.map((r) => `${r.n} → ${(r.peakMb - r.baseMb).toFixed(0)}`).join(", ")}. For scale, the KV cache of one sequence is 30 layers × 2 × 3 heads × 64 × 4 B = 45 KiB per token.`,
].join("\n");
const mdPath = join(OUT, "ENGINES.md");
await writeMarkdownSection(mdPath, "batched-steering", "packages/backend-onnx/scripts/batched-bench.ts", body);
log(`wrote ${jsonPath} (batched.onnx) and the "Batched steering" section of ${mdPath}`);
