import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { EmotionVector } from "../emotion-vector.js";
import type { GenerationSession, SessionBackend } from "../generation-session.js";
import type { SteeringBackend } from "../steering-backend.js";
import type { SteeringSpec } from "../steering-spec.js";
import { writeJsonKey, writeMarkdownSection } from "./benchmark-files.js";

// The measurement harness of the engines' batched-steering benchmarks (scripts/batched-bench.ts
// of backend-llamacpp, backend-onnx and backend-transformers), written once so that every engine's
// figures in benchmarks/ENGINES.md come from the same prompts, steering mixes, clock and RSS probe;
// each script keeps only how it opens its engine and what its section says (runBatchedBench is the
// whole flow for the engines whose sessions are made per run). Engines never import each other, so
// the shared part lives here.

/** The bench's eight chat prompts (SmolLM2's template), request i gets prompt i. */
export const SESSION_BENCH_PROMPTS: readonly string[] = [
  "Tell me about your weekend.",
  "Describe the view from a mountain top at sunrise.",
  "How was work today?",
  "What did you cook for dinner yesterday?",
  "Write a few lines about the sea.",
  "What do you think about rainy days?",
  "Tell me about a friend of yours.",
  "How do you feel about moving to a new city?",
].map((q) => `<|im_start|>user\n${q}<|im_end|>\n<|im_start|>assistant\n`);

/**
 * A quick "joy" vector from one contrast pair: per layer, the mean residual over a joyful text
 * minus the mean over a neutral one (layer 0 zero). Enough to give every request non-zero
 * steering rows that differ per request; not a vector to steer with in earnest.
 */
export async function onePairJoyVector(backend: SteeringBackend, corpus: string): Promise<EmotionVector> {
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
  return new EmotionVector({
    emotion: "joy",
    model: backend.model,
    directions: happy.map((h, l) => (l === 0 ? h : h.map((x, i) => x - gloomy[l]![i]!))),
    provenance: {
      method: "mean-diff",
      settings: {},
      samples: 1,
      corpus,
      corpusHash: "0",
      backend: backend.name,
      createdAt: new Date().toISOString(),
    },
  });
}

/** Eight different mixes of `vector` (intensity and layer window), one per bench request. */
export function sessionBenchSpecs(vector: EmotionVector): SteeringSpec[] {
  return [3, -2, 1.5, -1, 2.5, -1.5, 1, 2].map(
    (alpha, i): SteeringSpec => ({ terms: [{ vector, alpha }], layers: { from: 3 + (i % 3), to: 12 + (i % 4) } }),
  );
}

/** `--name <number>` of a script's arguments, or `fallback`. */
export function numberFlag(args: readonly string[], name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}

/** A bench script's own path, the repository root and the flags every batched bench takes. */
export interface SessionBenchSetup {
  readonly script: string;
  readonly repoRoot: string;
  /** `--tokens` (24): maxTokens of every request. */
  readonly tokens: number;
  /** `--reps` (1): interleaved repetitions of every arm. */
  readonly reps: number;
  /** `--rss-child n` (0: the parent): this process is the RSS probe of a session of n. */
  readonly rssChild: number;
  /** `--out <dir>` (the repository's benchmarks/): where engines.json and ENGINES.md are written. */
  readonly out: string;
  /** Another numeric flag of the script. */
  flag(name: string, fallback: number): number;
}

/** Reads the setup of the bench script at `scriptUrl` (`import.meta.url`, in packages/<engine>/scripts/). */
export function sessionBenchSetup(scriptUrl: string, args: readonly string[]): SessionBenchSetup {
  const script = fileURLToPath(scriptUrl);
  const repoRoot = resolve(dirname(script), "../../..");
  const at = args.indexOf("--out");
  return {
    script,
    repoRoot,
    tokens: numberFlag(args, "tokens", 24),
    reps: numberFlag(args, "reps", 1),
    rssChild: numberFlag(args, "rss-child", 0),
    out: at >= 0 ? resolve(args[at + 1]!) : join(repoRoot, "benchmarks"),
    flag: (name, fallback) => numberFlag(args, name, fallback),
  };
}

/** One arm's run: generated tokens, wall time and the process's CPU time (the engine's threads included). */
export interface BenchRun {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly tokens: number;
  /**
   * Its decode part (what issue 13's "aggregate decode tok/s" counts): the tokens after each
   * request's first, over the wall and CPU time from the first token to the end, where no prompt
   * pass runs. One at a time: each request's own span, summed; at once: from the moment every
   * request has its first token (all of them were admitted, prompt passes done) to the end.
   */
  readonly decode: { readonly wallMs: number; readonly cpuMs: number; readonly tokens: number };
}

export interface ServeOptions {
  readonly mode: "sequential" | "concurrent";
  /** maxTokens of every request. */
  readonly tokens: number;
  /**
   * The session a concurrent run uses (a server's long-lived one, made before the clock starts);
   * without it, one of `specs.length` sequences is made for the run and disposed after it.
   */
  readonly session?: GenerationSession;
  /** What one engine run is called in the error when none carried ≥ 2 sequences ("llama_decode"). */
  readonly runName: string;
}

/** The process's CPU time so far, ms (every thread, the engine's included). */
function cpuMsNow(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

/** A moment on both clocks. */
interface Instant {
  readonly wall: number;
  readonly cpu: number;
}

const now = (): Instant => ({ wall: performance.now(), cpu: cpuMsNow() });

/**
 * Request i = prompt i with `specs[i]`: one at a time through `backend.generate`, or all at once
 * in a session; `shared` is how many decode runs of this call carried ≥ 2 sequences. The clocks
 * are read at each request's first streamed token too, for the decode part ({@link BenchRun.decode}).
 */
export async function serveRequests(
  backend: SessionBackend,
  specs: readonly (SteeringSpec | null)[],
  options: ServeOptions,
): Promise<BenchRun & { shared: number }> {
  const { tokens: maxTokens } = options;
  const start = now();
  let tokens = 0;
  let shared = 0;
  const decode = { wallMs: 0, cpuMs: 0, tokens: 0 };
  if (options.mode === "sequential") {
    for (const [i, steering] of specs.entries()) {
      const seen: { first?: Instant } = {};
      const onToken = ({ token }: { token: number }) => {
        if (token >= 0) seen.first ??= now();
      };
      const generation = await backend.generate(SESSION_BENCH_PROMPTS[i]!, { maxTokens, steering, onToken });
      const end = now();
      tokens += generation.tokens.length;
      if (seen.first) {
        decode.wallMs += end.wall - seen.first.wall;
        decode.cpuMs += end.cpu - seen.first.cpu;
        decode.tokens += generation.tokens.length - 1;
      }
    }
  } else {
    const session = options.session ?? backend.createSession({ parallelSequences: specs.length });
    const before = session.stats;
    // The decode part starts when the last request has its first token: the session admits every
    // request (prompt pass, first token) before its first shared step, as long as they all fit.
    const counts = specs.map(() => 0);
    let lastFirst = start;
    let firstsPending = specs.length;
    let steppedEarly = false;
    const gens = await Promise.all(
      specs.map((steering, i) =>
        session
          .generate(SESSION_BENCH_PROMPTS[i]!, {
            maxTokens,
            steering,
            onToken: ({ token }) => {
              if (token < 0) return;
              counts[i]!++;
              if (counts[i] === 1) {
                lastFirst = now();
                firstsPending--;
              } else if (firstsPending > 0) steppedEarly = true;
            },
          })
          .then((generation) => {
            // Ended at once (an end-of-generation token first): no first token to wait for.
            if (generation.tokens.length === 0) firstsPending--;
            return generation;
          }),
      ),
    );
    const end = now();
    tokens = gens.reduce((n, g) => n + g.tokens.length, 0);
    if (specs.length > 1 && session.stats.maxSequencesInOneRun < 2)
      throw new Error(`the concurrent run never put ≥ 2 sequences into one ${options.runName} (${JSON.stringify(session.stats)})`);
    if (steppedEarly)
      throw new Error(
        `a shared ${options.runName} ran before every request had its first token, so the decode part cannot be told from the prompt passes: give the session as many sequences as requests (${specs.length})`,
      );
    decode.wallMs = end.wall - lastFirst.wall;
    decode.cpuMs = end.cpu - lastFirst.cpu;
    decode.tokens = gens.reduce((n, g) => n + Math.max(0, g.tokens.length - 1), 0);
    shared = session.stats.sharedRuns - before.sharedRuns;
    if (!options.session) await session.dispose();
  }
  const end = now();
  return { wallMs: end.wall - start.wall, cpuMs: end.cpu - start.cpu, tokens, decode, shared };
}

/** The runs of every arm, interleaved over reps, and the rates the figures are made of. */
export class BenchArms {
  readonly runs: Record<string, BenchRun[]> = {};

  record(key: string, run: BenchRun): void {
    this.runs[key] ??= [];
    this.runs[key].push({ wallMs: run.wallMs, cpuMs: run.cpuMs, tokens: run.tokens, decode: { ...run.decode } });
  }

  /** Aggregate tokens per wall second of an arm over its reps. */
  tps(key: string): number {
    const rs = this.runs[key]!;
    return (1000 * rs.reduce((n, r) => n + r.tokens, 0)) / rs.reduce((n, r) => n + r.wallMs, 0);
  }

  /** Tokens per CPU second of the whole process: less sensitive to other processes than wall time. */
  cpuTps(key: string): number {
    const rs = this.runs[key]!;
    return (1000 * rs.reduce((n, r) => n + r.tokens, 0)) / rs.reduce((n, r) => n + r.cpuMs, 0);
  }

  /** Decode tokens (after each request's first) per wall second of decoding, over the arm's reps. */
  decodeTps(key: string): number {
    const rs = this.runs[key]!;
    return (1000 * rs.reduce((n, r) => n + r.decode.tokens, 0)) / rs.reduce((n, r) => n + r.decode.wallMs, 0);
  }

  /** Decode tokens per CPU second of decoding. */
  decodeCpuTps(key: string): number {
    const rs = this.runs[key]!;
    return (1000 * rs.reduce((n, r) => n + r.decode.tokens, 0)) / rs.reduce((n, r) => n + r.decode.cpuMs, 0);
  }

  /** The ratio a/b of each rep on its own (wall tok/s; `decode`: of the decode parts), to show the spread the load causes. */
  perRep(a: string, b: string, decode = false): number[] {
    const rate = (r: BenchRun) => (decode ? r.decode.tokens / r.decode.wallMs : r.tokens / r.wallMs);
    return this.runs[a]!.map((r, i) => round3(rate(r) / rate(this.runs[b]![i]!)));
  }

  tokPerS(): Record<string, number> {
    return Object.fromEntries(Object.keys(this.runs).map((k) => [k, +this.tps(k).toFixed(2)]));
  }

  tokPerCpuS(): Record<string, number> {
    return Object.fromEntries(Object.keys(this.runs).map((k) => [k, +this.cpuTps(k).toFixed(2)]));
  }

  decodeTokPerS(): Record<string, number> {
    return Object.fromEntries(Object.keys(this.runs).map((k) => [k, +this.decodeTps(k).toFixed(2)]));
  }

  decodeTokPerCpuS(): Record<string, number> {
    return Object.fromEntries(Object.keys(this.runs).map((k) => [k, +this.decodeCpuTps(k).toFixed(2)]));
  }
}

/**
 * The arms {@link sessionBenchResult} reads, interleaved over `reps`: n = 4 and 8 requests, steered
 * one at a time (sequential_n), steered at once (concurrent_n) and unsteered at once (unsteered_n;
 * unsteered_8 only when `unsteered8`). `serve` runs `specs` (null: unsteered) in `mode`.
 */
export function runSessionBenchArms(options: {
  readonly reps: number;
  readonly specs: readonly SteeringSpec[];
  readonly unsteered8: boolean;
  readonly serve: (
    specs: readonly (SteeringSpec | null)[],
    mode: "sequential" | "concurrent",
    n: number,
  ) => Promise<BenchRun & { shared: number }>;
  readonly log: (line: string) => void;
  readonly sharedNoun: string;
}): Promise<BenchArms> {
  const arms: [string, number, boolean, "sequential" | "concurrent"][] = [
    ["sequential_4", 4, true, "sequential"],
    ["concurrent_4", 4, true, "concurrent"],
    ["unsteered_4", 4, false, "concurrent"],
    ["sequential_8", 8, true, "sequential"],
    ["concurrent_8", 8, true, "concurrent"],
  ];
  if (options.unsteered8) arms.push(["unsteered_8", 8, false, "concurrent"]);
  return runInterleaved(
    options.reps,
    arms.map(([key, n, steered, mode]) => ({
      key,
      run: () =>
        options.serve(
          options.specs.slice(0, n).map((s) => (steered ? s : null)),
          mode,
          n,
        ),
    })),
    options.log,
    options.sharedNoun,
    () => loadavg()[0]!,
  );
}

/**
 * Runs every arm once per rep, interleaved, so slow phases of a shared machine spread over every
 * arm; logs each run (`sharedNoun`: "shared runs", "shared decodes").
 */
export async function runInterleaved(
  reps: number,
  arms: readonly { readonly key: string; readonly run: () => Promise<BenchRun & { shared: number }> }[],
  log: (line: string) => void,
  sharedNoun: string,
  loadNow: () => number,
): Promise<BenchArms> {
  const result = new BenchArms();
  for (let rep = 0; rep < reps; rep++) {
    for (const { key, run } of arms) {
      const r = await run();
      result.record(key, r);
      log(
        `rep ${rep + 1}/${reps} ${key}: ${r.tokens} tokens in ${(r.wallMs / 1000).toFixed(1)} s (${((1000 * r.tokens) / r.wallMs).toFixed(1)} tok/s, ${r.shared} ${sharedNoun}), load ${loadNow().toFixed(1)}`,
      );
    }
  }
  return result;
}

export const round3 = (x: number): number => +x.toFixed(3);

/** One line of /proc/self/status in MB (VmHWM: peak RSS, VmRSS: current). */
function procStatusMb(field: "VmHWM" | "VmRSS", status: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

export interface RssSample {
  readonly n: number;
  readonly baseMb: number;
  readonly peakMb: number;
}

/** The process's RSS now (`baseMb`) and its peak while `work` runs (`peakMb`); Linux only. */
export async function peakRssDuring(work: () => Promise<unknown>): Promise<{ baseMb: number; peakMb: number }> {
  const baseMb = procStatusMb("VmRSS", await readFile("/proc/self/status", "utf8"));
  await writeFile("/proc/self/clear_refs", "5"); // resets VmHWM to the current RSS
  await work();
  const peakMb = procStatusMb("VmHWM", await readFile("/proc/self/status", "utf8"));
  return { baseMb, peakMb };
}

/**
 * Peak RSS above the warmed-up model for each size, one child process each (`script --rss-child n
 * ...childArgs`, which prints an {@link RssSample} as its last stdout line), and the least-squares
 * slope of (peak − base) over the size: the memory each additional sequence costs.
 */
export async function rssPerSequence(options: {
  readonly script: string;
  readonly sizes: readonly number[];
  readonly childArgs: readonly string[];
  readonly cwd: string;
  readonly log: (line: string) => void;
}): Promise<{ rss: RssSample[]; slopeMb: number }> {
  const rss: RssSample[] = [];
  for (const n of options.sizes) {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [...process.execArgv, options.script, "--rss-child", String(n), ...options.childArgs],
      { cwd: options.cwd, maxBuffer: 2 ** 20 },
    );
    rss.push(JSON.parse(stdout.trim().split("\n").at(-1)!) as RssSample);
    options.log(`rss ${n}: ${JSON.stringify(rss.at(-1))}`);
  }
  const xs = rss.map((r) => r.n);
  const ys = rss.map((r) => r.peakMb - r.baseMb);
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  const slopeMb = xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  return { rss, slopeMb };
}

/** What a batched bench run measured, as engines.json stores it under `batched.<engine>`. */
export interface SessionBenchResult {
  /** The ratios (engines.json `batched.<engine>.*`): concurrent vs one at a time, steered vs unsteered, MB per sequence. */
  readonly figures: Readonly<Record<string, number>>;
  /** Each ratio per rep. */
  readonly spread: Readonly<Record<string, number[]>>;
  readonly detail: {
    readonly measuredAt: string;
    readonly cpu: string;
    readonly model: string;
    readonly loadAverageBefore: number[];
    readonly loadAverageAfter: number[];
    readonly tokPerS: Record<string, number>;
    readonly tokPerCpuS: Record<string, number>;
    /** Decode tokens (after each request's first) per second of decoding, wall and CPU. */
    readonly decodeTokPerS: Record<string, number>;
    readonly decodeTokPerCpuS: Record<string, number>;
    readonly [more: string]: unknown;
  };
}

/**
 * The figures and detail of {@link runSessionBenchArms}' arms (steered_vs_unsteered_8 when
 * unsteered_8 ran) and the RSS slope; `setup` is what else of the engine's
 * setup the detail records (threads, context size), after the model.
 */
export function sessionBenchResult(options: {
  readonly arms: BenchArms;
  readonly rss: readonly RssSample[];
  readonly slopeMb: number;
  readonly model: string;
  readonly setup?: Readonly<Record<string, unknown>>;
  readonly tokens: number;
  readonly reps: number;
  readonly loadBefore: readonly number[];
}): SessionBenchResult {
  const { arms } = options;
  const unsteered8 = "unsteered_8" in arms.runs;
  const tps = (key: string) => arms.tps(key);
  const cpuTps = (key: string) => arms.cpuTps(key);
  const dTps = (key: string) => arms.decodeTps(key);
  const dCpuTps = (key: string) => arms.decodeCpuTps(key);
  const figures = {
    // Aggregate decode tok/s (the targets): tokens after each request's first over the time spent decoding them.
    speedup_vs_sequential_4_decode: round3(dTps("concurrent_4") / dTps("sequential_4")),
    steered_vs_unsteered_4_decode: round3(dTps("concurrent_4") / dTps("unsteered_4")),
    speedup_vs_sequential_8_decode: round3(dTps("concurrent_8") / dTps("sequential_8")),
    ...(unsteered8 ? { steered_vs_unsteered_8_decode: round3(dTps("concurrent_8") / dTps("unsteered_8")) } : {}),
    speedup_vs_sequential_4_decode_cpu: round3(dCpuTps("concurrent_4") / dCpuTps("sequential_4")),
    steered_vs_unsteered_4_decode_cpu: round3(dCpuTps("concurrent_4") / dCpuTps("unsteered_4")),
    speedup_vs_sequential_8_decode_cpu: round3(dCpuTps("concurrent_8") / dCpuTps("sequential_8")),
    // Every generated token over the whole wall time, every request's prompt pass included.
    speedup_vs_sequential_4: round3(tps("concurrent_4") / tps("sequential_4")),
    steered_vs_unsteered_4: round3(tps("concurrent_4") / tps("unsteered_4")),
    speedup_vs_sequential_8: round3(tps("concurrent_8") / tps("sequential_8")),
    ...(unsteered8 ? { steered_vs_unsteered_8: round3(tps("concurrent_8") / tps("unsteered_8")) } : {}),
    rss_per_sequence_mb: +options.slopeMb.toFixed(1),
    steered_vs_unsteered_4_cpu: round3(cpuTps("concurrent_4") / cpuTps("unsteered_4")),
    // In CPU time: what batching saves in work, less exposed than wall time to other processes on a shared machine.
    speedup_vs_sequential_4_cpu: round3(cpuTps("concurrent_4") / cpuTps("sequential_4")),
    speedup_vs_sequential_8_cpu: round3(cpuTps("concurrent_8") / cpuTps("sequential_8")),
  };
  const spread = {
    speedup_vs_sequential_4_decode: arms.perRep("concurrent_4", "sequential_4", true),
    steered_vs_unsteered_4_decode: arms.perRep("concurrent_4", "unsteered_4", true),
    speedup_vs_sequential_8_decode: arms.perRep("concurrent_8", "sequential_8", true),
    ...(unsteered8 ? { steered_vs_unsteered_8_decode: arms.perRep("concurrent_8", "unsteered_8", true) } : {}),
    speedup_vs_sequential_4: arms.perRep("concurrent_4", "sequential_4"),
    steered_vs_unsteered_4: arms.perRep("concurrent_4", "unsteered_4"),
    speedup_vs_sequential_8: arms.perRep("concurrent_8", "sequential_8"),
    ...(unsteered8 ? { steered_vs_unsteered_8: arms.perRep("concurrent_8", "unsteered_8") } : {}),
  };
  const loadAfter = loadavg();
  const detail = {
    measuredAt: new Date().toISOString(),
    cpu: cpus()[0]?.model ?? "unknown",
    model: options.model,
    ...options.setup,
    tokensPerRequest: options.tokens,
    reps: options.reps,
    loadAverageBefore: options.loadBefore.map((x) => +x.toFixed(1)),
    loadAverageAfter: loadAfter.map((x) => +x.toFixed(1)),
    tokPerS: arms.tokPerS(),
    tokPerCpuS: arms.tokPerCpuS(),
    decodeTokPerS: arms.decodeTokPerS(),
    decodeTokPerCpuS: arms.decodeTokPerCpuS(),
    perRep: spread,
    runs: arms.runs,
    rss: options.rss,
  };
  return { figures, spread, detail };
}

/**
 * The Markdown both engines' sections share: when and where it was measured, the arms' rates and
 * the figures against their targets. `jsonKey` names the figures' engines.json key; `rssOver`
 * says what the RSS slope is over ("sequences").
 */
export function sessionBenchTables(result: SessionBenchResult, jsonKey: string, rssOver: string): string[] {
  const { figures, spread, detail } = result;
  const row = (label: string, target: string, key = label) => `| ${label} | ${figures[key]} | ${spread[key]!.join(", ")} | ${target} |`;
  return [
    `Measured ${detail.measuredAt.slice(0, 16)} UTC on ${detail.cpu} (2 cores, shared): load average ${detail.loadAverageBefore.join(", ")} before, ${detail.loadAverageAfter.join(", ")} after.`,
    "",
    "Two clocks per arm: **decode** = the tokens after each request's first over the time spent decoding them (one at a time:",
    "each request from its first token to its end, summed; at once: from the moment every request has its first token, all",
    "prompt passes done, to the end); **incl. prompt** = every generated token over the whole wall time, each request's",
    "prompt pass included. The targets are judged on the decode figures: the issue's targets are on \"aggregate decode",
    'tok/s"; the prompt passes, which batching does not share here, are reported beside them.',
    "",
    "| arm | decode tok/s (wall) | decode tok per CPU-second | tok/s incl. prompt (wall) | tok per CPU-second incl. prompt |",
    "| --- | --- | --- | --- | --- |",
    ...Object.entries(detail.tokPerS).map(
      ([k, v]) =>
        `| ${k.replace("_", " ")} | ${detail.decodeTokPerS[k]} | ${detail.decodeTokPerCpuS[k]} | ${v} | ${detail.tokPerCpuS[k]} |`,
    ),
    "",
    `| figure (engines.json \`${jsonKey}.*\`) | value | per rep | target |`,
    "| --- | --- | --- | --- |",
    row("speedup_vs_sequential_4_decode", "≥ 2"),
    row("steered_vs_unsteered_4_decode", "≥ 0.95"),
    `| speedup_vs_sequential_4_decode_cpu (CPU time) | ${figures.speedup_vs_sequential_4_decode_cpu} | | |`,
    `| steered_vs_unsteered_4_decode_cpu (CPU time) | ${figures.steered_vs_unsteered_4_decode_cpu} | | |`,
    row("speedup_vs_sequential_8_decode", "(reported)"),
    `| speedup_vs_sequential_8_decode_cpu (CPU time) | ${figures.speedup_vs_sequential_8_decode_cpu} | | |`,
    ...("steered_vs_unsteered_8_decode" in figures ? [row("steered_vs_unsteered_8_decode", "(reported)")] : []),
    row("speedup_vs_sequential_4 (incl. prompt)", "(reported)", "speedup_vs_sequential_4"),
    row("steered_vs_unsteered_4 (incl. prompt)", "(reported)", "steered_vs_unsteered_4"),
    `| steered_vs_unsteered_4_cpu (incl. prompt, CPU time) | ${figures.steered_vs_unsteered_4_cpu} | | |`,
    `| speedup_vs_sequential_4_cpu (incl. prompt, CPU time) | ${figures.speedup_vs_sequential_4_cpu} | | |`,
    row("speedup_vs_sequential_8 (incl. prompt)", "(reported)", "speedup_vs_sequential_8"),
    `| speedup_vs_sequential_8_cpu (incl. prompt, CPU time) | ${figures.speedup_vs_sequential_8_cpu} | | |`,
    ...("steered_vs_unsteered_8" in figures ? [row("steered_vs_unsteered_8 (incl. prompt)", "(reported)", "steered_vs_unsteered_8")] : []),
    `| rss_per_sequence_mb (slope of peak RSS over 1, 2, 4, 8 ${rssOver}) | ${figures.rss_per_sequence_mb} | | (reported) |`,
  ];
}

/** "1 → 4, 2 → 17, …": peak RSS above the warmed-up model per size, MB. */
export function rssAboveBase(rss: readonly RssSample[]): string {
  return rss.map((r) => `${r.n} → ${(r.peakMb - r.baseMb).toFixed(0)}`).join(", ");
}

/** An engine's part of a batched bench whose sessions are made per run (ONNX, transformers.js). */
export interface BatchedBenchEngine {
  /** The engine's name in the log ("onnx", "transformers.js"). */
  readonly name: string;
  /** Opens the engine on the bench's model; the bench disposes it. */
  readonly open: () => Promise<SessionBackend>;
  /** What one engine run is called (the error when none carried ≥ 2 sequences): "session run". */
  readonly runName: string;
  /** What the log calls runs that carried ≥ 2 sequences: "shared runs". */
  readonly sharedNoun: string;
  /** The model as the detail records it ("smollm2-135m-instruct fp32"). */
  readonly model: string;
  /** The engines.json key of the figures ("batched.onnx"). */
  readonly jsonKey: string;
  /** The ENGINES.md section: its marker name, and its prose before the command and after the tables. */
  readonly section: {
    readonly name: string;
    readonly heading: string;
    readonly intro: (run: { readonly model: string; readonly tokens: number; readonly reps: number }) => readonly string[];
    /** `rss`: {@link rssAboveBase} of the run. */
    readonly notes: (rss: string) => readonly string[];
  };
}

/**
 * The whole batched bench of an engine (the script at `scriptUrl`, run with `args`): the arms of
 * {@link runSessionBenchArms} without unsteered_8, peak RSS per sequence from child processes of
 * 1, 2, 4 and 8 (the script again with `--rss-child n`, which this function answers too), the
 * figures printed and written to `<out>/engines.json` and the engine's section of `<out>/ENGINES.md`.
 * The ONNX and transformers.js scripts are this call with their engine's part; the llama.cpp
 * bench keeps its own flow (threads, a server's long-lived session).
 */
export async function runBatchedBench(scriptUrl: string, args: readonly string[], engine: BatchedBenchEngine): Promise<void> {
  const setup = sessionBenchSetup(scriptUrl, args);
  const { tokens, reps, rssChild, out } = setup;
  const log = (s: string) => process.stderr.write(`[batched-bench ${engine.name}] ${s}\n`);
  const load = async () => {
    const backend = await engine.open();
    return { backend, specs: sessionBenchSpecs(await onePairJoyVector(backend, "bench")) };
  };
  const serve = (backend: SessionBackend, specs: readonly (SteeringSpec | null)[], mode: "sequential" | "concurrent") =>
    serveRequests(backend, specs, { mode, tokens, runName: engine.runName });

  if (rssChild > 0) {
    // Child: peak RSS of rssChild concurrent steered generations above the warmed-up model.
    const { backend, specs } = await load();
    await backend.generate(SESSION_BENCH_PROMPTS[0]!, { maxTokens: 4, steering: specs[0]! });
    const { baseMb, peakMb } = await peakRssDuring(() =>
      serve(backend, specs.slice(0, rssChild), rssChild === 1 ? "sequential" : "concurrent"),
    );
    process.stdout.write(`${JSON.stringify({ n: rssChild, baseMb, peakMb })}\n`);
    await backend.dispose();
    process.exit(0);
  }

  const loadBefore = loadavg();
  const { backend, specs } = await load();
  await backend.generate(SESSION_BENCH_PROMPTS[0]!, { maxTokens: 4 }); // warm-up
  const arms = await runSessionBenchArms({
    reps,
    specs,
    unsteered8: false,
    serve: (steering, mode) => serve(backend, steering, mode),
    log,
    sharedNoun: engine.sharedNoun,
  });
  await backend.dispose();

  log("peak RSS per concurrent sequence (one child process per batch size)…");
  const { rss, slopeMb } = await rssPerSequence({
    script: setup.script,
    sizes: [1, 2, 4, 8],
    childArgs: ["--tokens", String(tokens)],
    cwd: setup.repoRoot,
    log,
  });

  const result = sessionBenchResult({ arms, rss, slopeMb, model: engine.model, tokens, reps, loadBefore });
  const { figures, detail } = result;
  console.log(JSON.stringify({ figures, detail }, null, 2));

  const jsonPath = join(out, "engines.json");
  await writeJsonKey(jsonPath, engine.jsonKey, { ...figures, detail });
  const scriptPath = relative(setup.repoRoot, setup.script);
  const body = [
    engine.section.heading,
    "",
    ...engine.section.intro({ model: engine.model, tokens, reps }),
    "",
    "```",
    `node_modules/.bin/tsx --conditions=@emosteer/source ${scriptPath} --tokens ${tokens} --reps ${reps}`,
    "```",
    "",
    ...sessionBenchTables(result, engine.jsonKey, "concurrent"),
    "",
    ...engine.section.notes(rssAboveBase(rss)),
  ].join("\n");
  const mdPath = join(out, "ENGINES.md");
  await writeMarkdownSection(mdPath, engine.section.name, scriptPath, body);
  log(`wrote ${jsonPath} (${engine.jsonKey}) and the "${engine.section.heading.replace(/^#+ /, "")}" section of ${mdPath}`);
}
