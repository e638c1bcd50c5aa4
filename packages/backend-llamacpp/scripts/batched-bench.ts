/**
 * Batched steering on llama.cpp (issue 13): aggregate decode throughput of concurrent requests,
 * each steered differently, in one generation session (every active sequence in one llama_decode
 * per step, each reading its own row of the patched llama.cpp's per-sequence steering table)
 * against serving them one at a time (`backend.generate`) and against the same number of
 * concurrent unsteered requests (no table in the graph at all); and the peak RSS each additional
 * sequence costs. Default model (Q8_0), greedy, `--tokens` per request, `--threads` llama.cpp threads.
 *
 *   node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-llamacpp/scripts/batched-bench.ts [--tokens 24] [--reps 1] [--threads 2] [--out benchmarks]
 *
 * Writes benchmarks/engines.json keys batched.llama_cpp.* and the "Batched steering on llama.cpp"
 * section of benchmarks/ENGINES.md (`--out`: another folder, for a trial run). Ratios come from one
 * run of this script; the load average is recorded. The harness (prompts, mixes, clock, RSS probe)
 * is core/node's session-bench, shared with the ONNX bench.
 */
import { readFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { GenerationSession, SteeringSpec } from "@emosteer/core";
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
import { ensureModel } from "@emosteer/models";
import { createLlamaCppBackend, type LlamaCppBackend } from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../..");
const args = process.argv.slice(2);
const TOKENS = numberFlag(args, "tokens", 24);
const REPS = numberFlag(args, "reps", 1);
const RSS_CHILD = numberFlag(args, "rss-child", 0);
/**
 * llama.cpp threads, for every arm alike. On a shared, oversubscribed machine ggml's threads spin
 * at each barrier while their partner is descheduled, which costs more than batching saves: 1
 * thread measures batching, 2 (the backend's default here) what a loaded 2-core box gives.
 */
const THREADS = numberFlag(args, "threads", 2);
const OUT = args.includes("--out") ? resolve(args[args.indexOf("--out") + 1]!) : join(repoRoot, "benchmarks");
/** Tokens each sequence may hold: the session's context has this many cells per sequence. */
const CONTEXT_SIZE = 512;

const log = (s: string) => process.stderr.write(`[batched-bench llama.cpp] ${s}\n`);

async function load(): Promise<{ backend: LlamaCppBackend; specs: SteeringSpec[] }> {
  const { path } = await ensureModel("smollm2-135m-instruct");
  const backend = await createLlamaCppBackend({ modelPath: path, contextSize: CONTEXT_SIZE, threads: THREADS });
  // Eight different mixes: non-zero steering rows that differ per request (as the ONNX bench's).
  return { backend, specs: sessionBenchSpecs(await onePairJoyVector(backend, "bench")) };
}

/**
 * n requests: one at a time through backend.generate, or all at once in `session` (a server's
 * long-lived session: its context is made before the clock starts, as the backend's own is).
 */
async function serve(
  backend: LlamaCppBackend,
  specs: readonly (SteeringSpec | null)[],
  mode: "sequential" | "concurrent",
  session?: GenerationSession,
) {
  if (mode === "concurrent" && !session) throw new Error("internal: a concurrent run needs its session");
  return serveRequests(backend, specs, { mode, tokens: TOKENS, runName: "llama_decode", ...(session ? { session } : {}) });
}

if (RSS_CHILD > 0) {
  // Child: peak RSS of a session of RSS_CHILD concurrent steered generations above the warmed-up model.
  const { backend, specs } = await load();
  await backend.generate(SESSION_BENCH_PROMPTS[0]!, { maxTokens: 4, steering: specs[0]! });
  const { baseMb, peakMb } = await peakRssDuring(async () => {
    const session = backend.createSession({ parallelSequences: RSS_CHILD });
    await serve(backend, specs.slice(0, RSS_CHILD), "concurrent", session);
    await session.dispose();
  });
  process.stdout.write(`${JSON.stringify({ n: RSS_CHILD, baseMb, peakMb })}\n`);
  await backend.dispose();
  process.exit(0);
}

const loadBefore = loadavg();
const { backend, specs } = await load();
await backend.generate(SESSION_BENCH_PROMPTS[0]!, { maxTokens: 4 }); // warm-up
// One session per size, warmed up (its context allocated, its graphs reserved) before any timing.
const sessions = new Map<number, GenerationSession>();
for (const n of [4, 8]) {
  const session = backend.createSession({ parallelSequences: n });
  await serve(backend, specs.slice(0, n), "concurrent", session);
  sessions.set(n, session);
}
const arms = await runInterleaved(
  REPS,
  (
    [
      ["sequential_4", 4, true, "sequential"],
      ["concurrent_4", 4, true, "concurrent"],
      ["unsteered_4", 4, false, "concurrent"],
      ["sequential_8", 8, true, "sequential"],
      ["concurrent_8", 8, true, "concurrent"],
      ["unsteered_8", 8, false, "concurrent"],
    ] as const
  ).map(([key, n, steered, mode]) => ({
    key,
    run: () =>
      serve(
        backend,
        specs.slice(0, n).map((s) => (steered ? s : null)),
        mode,
        sessions.get(n),
      ),
  })),
  log,
  "shared decodes",
  () => loadavg()[0]!,
);
for (const session of sessions.values()) await session.dispose();
await backend.dispose();
const tps = (key: string) => arms.tps(key);
/** Tokens per CPU second of the whole process (llama.cpp's threads included): less sensitive to other processes than wall time. */
const cpuTps = (key: string) => arms.cpuTps(key);

log("peak RSS per concurrent sequence (one child process per session size)…");
const { rss, slopeMb: slope } = await rssPerSequence({
  script: fileURLToPath(import.meta.url),
  sizes: [1, 2, 4, 8],
  childArgs: ["--tokens", String(TOKENS), "--threads", String(THREADS)],
  cwd: repoRoot,
  log,
});

const perRep = (a: string, b: string) => arms.perRep(a, b);
const figures = {
  speedup_vs_sequential_4: r3(tps("concurrent_4") / tps("sequential_4")),
  steered_vs_unsteered_4: r3(tps("concurrent_4") / tps("unsteered_4")),
  speedup_vs_sequential_8: r3(tps("concurrent_8") / tps("sequential_8")),
  steered_vs_unsteered_8: r3(tps("concurrent_8") / tps("unsteered_8")),
  rss_per_sequence_mb: +slope.toFixed(1),
  steered_vs_unsteered_4_cpu: r3(cpuTps("concurrent_4") / cpuTps("unsteered_4")),
};
const spread = {
  speedup_vs_sequential_4: perRep("concurrent_4", "sequential_4"),
  steered_vs_unsteered_4: perRep("concurrent_4", "unsteered_4"),
  speedup_vs_sequential_8: perRep("concurrent_8", "sequential_8"),
  steered_vs_unsteered_8: perRep("concurrent_8", "unsteered_8"),
};
const loadAfter = loadavg();
const detail = {
  measuredAt: new Date().toISOString(),
  cpu: cpus()[0]?.model ?? "unknown",
  model: "smollm2-135m-instruct Q8_0",
  contextSizePerSequence: CONTEXT_SIZE,
  threads: THREADS,
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
const stored = await readFile(jsonPath, "utf8").then(
  (t) => JSON.parse(t) as { batched?: { llama_cpp?: Record<string, unknown> } },
  () => ({}) as { batched?: { llama_cpp?: Record<string, unknown> } },
);
// Another --threads run is kept beside it (threads_<n>); the top-level figures are the last run's.
const previous = stored.batched?.llama_cpp ?? {};
const byThreads = Object.fromEntries(Object.entries(previous).filter(([k]) => k.startsWith("threads_")));
await writeJsonKey(jsonPath, "batched.llama_cpp", { ...figures, detail, ...byThreads, [`threads_${THREADS}`]: figures });

// One section per thread count, so a --threads 1 run and a --threads 2 run stand side by side.
const t = detail.tokPerS as Record<string, number>;
const kvKiB = (30 * 2 * 3 * 64 * 2) / 1024; // f16 K and V, 30 layers, 3 KV heads of 64
const body = [
  `## Batched steering on llama.cpp, ${THREADS} thread${THREADS === 1 ? "" : "s"}`,
  "",
  "Per-request steering in one `llama_decode` (issue 13): requests each steered differently run in one generation session",
  "(`backend.createSession({ parallelSequences })`): each request's prompt alone in its own sequence, then every active sequence's",
  "next token in one batch, each token adding the row of the patched llama.cpp's per-sequence steering table its sequence selects",
  "(`ggml_get_rows` + `ggml_add` at each steered layer), in one long-lived, warmed-up session per size as a server keeps it (its",
  "context allocated before the clock starts); against serving them one at a time (`backend.generate`) and against",
  `concurrent unsteered requests (no table in the graph). ${detail.model}, greedy, ${THREADS === 1 ? "1 thread" : `${THREADS} threads`}, ${TOKENS} tokens per request,`,
  `aggregate tok/s = generated tokens / wall time including prompt passes, ${REPS} interleaved rep(s).`,
  "",
  "```",
  `node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-llamacpp/scripts/batched-bench.ts --tokens ${TOKENS} --reps ${REPS} --threads ${THREADS}`,
  "```",
  "",
  `Measured ${detail.measuredAt.slice(0, 16)} UTC on ${detail.cpu} (2 cores, shared): load average ${detail.loadAverageBefore.join(", ")} before, ${detail.loadAverageAfter.join(", ")} after.`,
  "",
  "| arm | aggregate tok/s (wall) | tok per CPU-second |",
  "| --- | --- | --- |",
  ...Object.entries(t).map(([k, v]) => `| ${k.replace("_", " ")} | ${v} | ${(detail.tokPerCpuS as Record<string, number>)[k]} |`),
  "",
  "| figure (engines.json `batched.llama_cpp.*`) | value | per rep | target |",
  "| --- | --- | --- | --- |",
  `| speedup_vs_sequential_4 | ${figures.speedup_vs_sequential_4} | ${spread.speedup_vs_sequential_4.join(", ")} | ≥ 2 |`,
  `| steered_vs_unsteered_4 | ${figures.steered_vs_unsteered_4} | ${spread.steered_vs_unsteered_4.join(", ")} | ≥ 0.95 |`,
  `| steered_vs_unsteered_4_cpu (CPU time) | ${figures.steered_vs_unsteered_4_cpu} | | |`,
  `| speedup_vs_sequential_8 | ${figures.speedup_vs_sequential_8} | ${spread.speedup_vs_sequential_8.join(", ")} | (reported) |`,
  `| steered_vs_unsteered_8 | ${figures.steered_vs_unsteered_8} | ${spread.steered_vs_unsteered_8.join(", ")} | (reported) |`,
  `| rss_per_sequence_mb (slope of peak RSS over 1, 2, 4, 8 sequences) | ${figures.rss_per_sequence_mb} | | (reported) |`,
  "",
  `Peak RSS above the warmed-up model, MB: ${rss.map((r) => `${r.n} → ${(r.peakMb - r.baseMb).toFixed(0)}`).join(", ")}. A session's context holds`,
  `${CONTEXT_SIZE} cells per sequence: its KV cache is 30 layers × 2 × 3 heads × 64 × 2 B (f16) = ${kvKiB.toFixed(1)} KiB per cell,`,
  `${((kvKiB * CONTEXT_SIZE) / 1024).toFixed(1)} MiB per sequence; the steering table adds 29 layers × 576 × 4 B = 65 KiB per sequence.`,
].join("\n");
const mdPath = join(OUT, "ENGINES.md");
await writeMarkdownSection(
  mdPath,
  `batched-steering-llama-cpp-threads-${THREADS}`,
  "packages/backend-llamacpp/scripts/batched-bench.ts",
  body,
);
log(`wrote ${jsonPath} (batched.llama_cpp) and the "Batched steering on llama.cpp" section of ${mdPath}`);
