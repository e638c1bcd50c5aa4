/**
 * Batched steering on llama.cpp (issue 13): aggregate decode throughput of concurrent requests,
 * each steered differently, in one generation session (each request's prompt alone in its own
 * sequence, then every active sequence's next token in one llama_decode per step, each token
 * reading its sequence's row of the patched llama.cpp's per-sequence steering table)
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
import { loadavg } from "node:os";
import { join } from "node:path";
import type { GenerationSession, SteeringSpec } from "@emosteer/core";
import {
  onePairJoyVector,
  peakRssDuring,
  rssAboveBase,
  rssPerSequence,
  runSessionBenchArms,
  SESSION_BENCH_PROMPTS,
  serveRequests,
  sessionBenchResult,
  sessionBenchSetup,
  sessionBenchSpecs,
  sessionBenchTables,
  writeJsonKey,
  writeMarkdownSection,
} from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { createLlamaCppBackend, type LlamaCppBackend } from "../src/index.js";

const setup = sessionBenchSetup(import.meta.url, process.argv.slice(2));
const { tokens: TOKENS, reps: REPS, rssChild: RSS_CHILD, out: OUT } = setup;
/**
 * llama.cpp threads, for every arm alike. On a shared, oversubscribed machine ggml's threads spin
 * at each barrier while their partner is descheduled, which costs more than batching saves: 1
 * thread measures batching, 2 (the backend's default here) what a loaded 2-core box gives.
 */
const THREADS = setup.flag("threads", 2);
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
const arms = await runSessionBenchArms({
  reps: REPS,
  specs,
  unsteered8: true,
  serve: (steering, mode, n) => serve(backend, steering, mode, sessions.get(n)),
  log,
  sharedNoun: "shared decodes",
});
for (const session of sessions.values()) await session.dispose();
await backend.dispose();

log("peak RSS per concurrent sequence (one child process per session size)…");
const { rss, slopeMb } = await rssPerSequence({
  script: setup.script,
  sizes: [1, 2, 4, 8],
  childArgs: ["--tokens", String(TOKENS), "--threads", String(THREADS)],
  cwd: setup.repoRoot,
  log,
});

const result = sessionBenchResult({
  arms,
  rss,
  slopeMb,
  model: "smollm2-135m-instruct Q8_0",
  setup: { contextSizePerSequence: CONTEXT_SIZE, threads: THREADS },
  tokens: TOKENS,
  reps: REPS,
  loadBefore,
});
const { figures, detail } = result;
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
const kvKiB = (30 * 2 * 3 * 64 * 2) / 1024; // f16 K and V, 30 layers, 3 KV heads of 64
const body = [
  `## Batched steering on llama.cpp, ${THREADS} thread${THREADS === 1 ? "" : "s"}`,
  "",
  "Per-request steering in one `llama_decode` (issue 13): requests each steered differently run in one generation session",
  "(`backend.createSession({ parallelSequences })`): each request's prompt alone in its own sequence, then every active sequence's",
  "next token in one `llama_decode` per step, each token adding the row of the patched llama.cpp's",
  "per-sequence steering table its sequence selects (one `ggml_add_id` at each steered layer), in one long-lived,",
  "warmed-up session per size as a server keeps it (its context allocated before the clock starts); against serving them one at",
  "a time (`backend.generate`) and against concurrent unsteered requests (no table in the graph).",
  `${detail.model}, greedy, ${THREADS === 1 ? "1 thread" : `${THREADS} threads`}, ${TOKENS} tokens per request,`,
  `${REPS} interleaved rep(s). Each request's prompt is decoded alone (whole-prompt admission), so the prompt passes cost the`,
  'same one at a time and at once; the decode figures leave them out, as the issue\'s "aggregate decode tok/s" does. The machine was shared with',
  Math.max(...detail.loadAverageBefore, ...detail.loadAverageAfter) > 4
    ? "other sessions' work and very busy (load average above 4 on 2 cores, below), so wall-time ratios scatter widely per rep; the CPU-time ratios are steadier."
    : "other sessions' work (load average below).",
  "",
  "```",
  `node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-llamacpp/scripts/batched-bench.ts --tokens ${TOKENS} --reps ${REPS} --threads ${THREADS}`,
  "```",
  "",
  ...sessionBenchTables(result, "batched.llama_cpp", "sequences"),
  "",
  `Peak RSS above the warmed-up model, MB: ${rssAboveBase(rss)}. A session's context holds`,
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
