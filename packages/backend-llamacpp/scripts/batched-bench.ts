/**
 * Batched steering on llama.cpp (issue 13): aggregate decode throughput of concurrent requests,
 * each steered differently, in one generation session (every active sequence in one llama_decode
 * per step, each reading its own row of the patched llama.cpp's per-sequence steering table)
 * against serving them one at a time (`backend.generate`) and against the same number of
 * concurrent unsteered requests (no table in the graph at all); and the peak RSS each additional
 * sequence costs. Default model (Q8_0), greedy, `--tokens` per request, `--threads` llama.cpp threads.
 *
 *   node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-llamacpp/scripts/batched-bench.ts [--tokens 24] [--reps 1] [--threads 2]
 *
 * Writes benchmarks/engines.json keys batched.llama_cpp.* and the "Batched steering on llama.cpp"
 * section of benchmarks/ENGINES.md. Ratios come from one run of this script; the load average is recorded.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { EmotionVector, type GenerationSession, type SteeringSpec } from "@emosteer/core";
import { writeFileAtomic } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { createLlamaCppBackend, type LlamaCppBackend } from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../..");
const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const TOKENS = flag("tokens", 24);
const REPS = flag("reps", 1);
const RSS_CHILD = flag("rss-child", 0);
/**
 * llama.cpp threads, for every arm alike. On a shared, oversubscribed machine ggml's threads spin
 * at each barrier while their partner is descheduled, which costs more than batching saves: 1
 * thread measures batching, 2 (the backend's default here) what a loaded 2-core box gives.
 */
const THREADS = flag("threads", 2);
/** Tokens each sequence may hold: the session's context has this many cells per sequence. */
const CONTEXT_SIZE = 512;

const PROMPTS = [
  "Tell me about your weekend.",
  "Describe the view from a mountain top at sunrise.",
  "How was work today?",
  "What did you cook for dinner yesterday?",
  "Write a few lines about the sea.",
  "What do you think about rainy days?",
  "Tell me about a friend of yours.",
  "How do you feel about moving to a new city?",
].map((q) => `<|im_start|>user\n${q}<|im_end|>\n<|im_start|>assistant\n`);

const log = (s: string) => process.stderr.write(`[batched-bench llama.cpp] ${s}\n`);

async function load(): Promise<{ backend: LlamaCppBackend; specs: SteeringSpec[] }> {
  const { path } = await ensureModel("smollm2-135m-instruct");
  const backend = await createLlamaCppBackend({ modelPath: path, contextSize: CONTEXT_SIZE, threads: THREADS });
  const { layerCount, hiddenSize } = backend.model;
  const pooled = async (text: string) => {
    const tokens = await backend.tokenize(text);
    const layers = Array.from({ length: layerCount - 1 }, (_, i) => i + 1);
    const c = await backend.captureResiduals({ tokens, spanStart: 0, spanEnd: tokens.length, layers });
    return [
      new Float32Array(hiddenSize),
      ...c.data.map((d) => {
        const mean = new Float32Array(hiddenSize);
        for (let p = 0; p < c.positions; p++) for (let i = 0; i < hiddenSize; i++) mean[i]! += d[p * hiddenSize + i]! / c.positions;
        return mean;
      }),
    ];
  };
  const happy = await pooled("I am so happy and delighted! What a wonderful, joyful day, full of laughter and sunshine!");
  const gloomy = await pooled("I feel nothing in particular. It is an ordinary day, and I am doing ordinary things.");
  const vector = new EmotionVector({
    emotion: "joy",
    model: backend.model,
    directions: happy.map((h, l) => (l === 0 ? h : h.map((x, i) => x - gloomy[l]![i]!))),
    provenance: {
      method: "mean-diff",
      settings: {},
      samples: 1,
      corpus: "bench",
      corpusHash: "0",
      backend: backend.name,
      createdAt: new Date().toISOString(),
    },
  });
  // Eight different mixes: non-zero steering rows that differ per request (as the ONNX bench's).
  const specs = [3, -2, 1.5, -1, 2.5, -1.5, 1, 2].map(
    (alpha, i): SteeringSpec => ({ terms: [{ vector, alpha }], layers: { from: 3 + (i % 3), to: 12 + (i % 4) } }),
  );
  return { backend, specs };
}

interface Run {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly tokens: number;
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
): Promise<Run & { shared: number }> {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  let tokens = 0;
  let shared = 0;
  if (mode === "sequential") {
    for (const [i, steering] of specs.entries())
      tokens += (await backend.generate(PROMPTS[i]!, { maxTokens: TOKENS, steering })).tokens.length;
  } else {
    if (!session) throw new Error("internal: a concurrent run needs its session");
    const before = session.stats;
    const gens = await Promise.all(specs.map((steering, i) => session.generate(PROMPTS[i]!, { maxTokens: TOKENS, steering })));
    tokens = gens.reduce((n, g) => n + g.tokens.length, 0);
    if (specs.length > 1 && session.stats.maxSequencesInOneRun < 2)
      throw new Error(`the concurrent run never put ≥ 2 sequences into one llama_decode (${JSON.stringify(session.stats)})`);
    shared = session.stats.sharedRuns - before.sharedRuns;
  }
  const c = process.cpuUsage(cpu);
  return { wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, tokens, shared };
}

function vm(field: "VmHWM" | "VmRSS", status: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

if (RSS_CHILD > 0) {
  // Child: peak RSS of a session of RSS_CHILD concurrent steered generations above the warmed-up model.
  const { backend, specs } = await load();
  await backend.generate(PROMPTS[0]!, { maxTokens: 4, steering: specs[0]! });
  const base = vm("VmRSS", await readFile("/proc/self/status", "utf8"));
  await writeFile("/proc/self/clear_refs", "5"); // resets VmHWM to the current RSS
  const session = backend.createSession({ parallelSequences: RSS_CHILD });
  await serve(backend, specs.slice(0, RSS_CHILD), "concurrent", session);
  await session.dispose();
  const peak = vm("VmHWM", await readFile("/proc/self/status", "utf8"));
  process.stdout.write(`${JSON.stringify({ n: RSS_CHILD, baseMb: base, peakMb: peak })}\n`);
  await backend.dispose();
  process.exit(0);
}

const loadBefore = loadavg();
const { backend, specs } = await load();
await backend.generate(PROMPTS[0]!, { maxTokens: 4 }); // warm-up
// One session per size, warmed up (its context allocated, its graphs reserved) before any timing.
const sessions = new Map<number, GenerationSession>();
for (const n of [4, 8]) {
  const session = backend.createSession({ parallelSequences: n });
  await serve(backend, specs.slice(0, n), "concurrent", session);
  sessions.set(n, session);
}
const runs: Record<string, Run[]> = {};
const record = (key: string, r: Run) => {
  runs[key] ??= [];
  runs[key].push(r);
};
for (let rep = 0; rep < REPS; rep++) {
  // Interleaved, so slow phases of the shared machine spread over every arm.
  for (const [key, n, steered, mode] of [
    ["sequential_4", 4, true, "sequential"],
    ["concurrent_4", 4, true, "concurrent"],
    ["unsteered_4", 4, false, "concurrent"],
    ["sequential_8", 8, true, "sequential"],
    ["concurrent_8", 8, true, "concurrent"],
    ["unsteered_8", 8, false, "concurrent"],
  ] as const) {
    const r = await serve(
      backend,
      specs.slice(0, n).map((s) => (steered ? s : null)),
      mode,
      sessions.get(n),
    );
    record(key, r);
    log(
      `rep ${rep + 1}/${REPS} ${key}: ${r.tokens} tokens in ${(r.wallMs / 1000).toFixed(1)} s (${((1000 * r.tokens) / r.wallMs).toFixed(1)} tok/s, ${r.shared} shared decodes), load ${loadavg()[0]!.toFixed(1)}`,
    );
  }
}
for (const session of sessions.values()) await session.dispose();
await backend.dispose();
const tps = (key: string) => {
  const rs = runs[key]!;
  return (1000 * rs.reduce((n, r) => n + r.tokens, 0)) / rs.reduce((n, r) => n + r.wallMs, 0);
};

log("peak RSS per concurrent sequence (one child process per session size)…");
const rss: { n: number; baseMb: number; peakMb: number }[] = [];
for (const n of [1, 2, 4, 8]) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      "--rss-child",
      String(n),
      "--tokens",
      String(TOKENS),
      "--threads",
      String(THREADS),
    ],
    { cwd: repoRoot, maxBuffer: 2 ** 20 },
  );
  rss.push(JSON.parse(stdout.trim().split("\n").at(-1)!) as (typeof rss)[number]);
  log(`rss ${n}: ${JSON.stringify(rss.at(-1))}`);
}
// Least-squares slope of (peak − base) over the session size.
const xs = rss.map((r) => r.n);
const ys = rss.map((r) => r.peakMb - r.baseMb);
const mx = xs.reduce((a, b) => a + b) / xs.length;
const my = ys.reduce((a, b) => a + b) / ys.length;
const slope = xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);

const r3 = (x: number) => +x.toFixed(3);
/** Tokens per CPU second of the whole process (llama.cpp's threads included): less sensitive to other processes than wall time. */
const cpuTps = (key: string) => {
  const rs = runs[key]!;
  return (1000 * rs.reduce((n, r) => n + r.tokens, 0)) / rs.reduce((n, r) => n + r.cpuMs, 0);
};
/** The ratio a/b of each rep on its own (wall tok/s), to show the spread the load causes. */
const perRep = (a: string, b: string) => runs[a]!.map((r, i) => r3(r.tokens / r.wallMs / (runs[b]![i]!.tokens / runs[b]![i]!.wallMs)));
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
  tokPerS: Object.fromEntries(Object.keys(runs).map((k) => [k, +tps(k).toFixed(2)])),
  tokPerCpuS: Object.fromEntries(Object.keys(runs).map((k) => [k, +cpuTps(k).toFixed(2)])),
  perRep: spread,
  runs,
  rss,
};
console.log(JSON.stringify({ figures, detail }, null, 2));

const benchmarks = join(repoRoot, "benchmarks");
const jsonPath = join(benchmarks, "engines.json");
const stored = await readFile(jsonPath, "utf8").then(
  (t) => JSON.parse(t) as Record<string, Record<string, unknown>>,
  () => ({}) as Record<string, Record<string, unknown>>,
);
// Another --threads run is kept beside it (threads_<n>); the top-level figures are the last run's.
const previous = (stored.batched?.llama_cpp ?? {}) as Record<string, unknown>;
const byThreads = Object.fromEntries(Object.entries(previous).filter(([k]) => k.startsWith("threads_")));
stored.batched = { ...stored.batched, llama_cpp: { ...figures, detail, ...byThreads, [`threads_${THREADS}`]: figures } };
await writeFileAtomic(jsonPath, `${JSON.stringify(stored, null, 2)}\n`);

// One section per thread count, so a --threads 1 run and a --threads 2 run stand side by side.
const BEGIN = `<!-- batched-steering-llama-cpp-threads-${THREADS}:begin (generated by packages/backend-llamacpp/scripts/batched-bench.ts) -->`;
const END = `<!-- batched-steering-llama-cpp-threads-${THREADS}:end -->`;
const t = detail.tokPerS as Record<string, number>;
const kvKiB = (30 * 2 * 3 * 64 * 2) / 1024; // f16 K and V, 30 layers, 3 KV heads of 64
const section = [
  BEGIN,
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
  END,
].join("\n");
const mdPath = join(benchmarks, "ENGINES.md");
const md = await readFile(mdPath, "utf8");
const [from, to] = [md.indexOf(BEGIN), md.indexOf(END)];
await writeFileAtomic(
  mdPath,
  from >= 0 && to >= 0 ? md.slice(0, from) + section + md.slice(to + END.length) : `${md.trimEnd()}\n\n${section}\n`,
);
log(`wrote ${jsonPath} (batched.llama_cpp) and the "Batched steering on llama.cpp" section of ${mdPath}`);
