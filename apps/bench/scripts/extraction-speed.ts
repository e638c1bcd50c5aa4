// Issue 17: the five core EVs from the fixed corpus's 100 pairs (600 captures: 100 neutral and
// 500 emotional answers), timed on each engine two ways in one process:
// - "before": the extraction loop as it was before issue 17 (kept here as the reference): one
//   capture at a time, emotion by emotion (a query's neutral answer captured once, with the first
//   emotion);
// - "now": core's extractEmotionVectors, which requests the texts of one query together (ONNX
//   evaluates their shared prompt once and the answers as one padded batch over its KV cache;
//   llama.cpp captures them in a row, reusing the prompt's KV cache).
// Wall and CPU seconds (this process: every onnxruntime and llama.cpp thread), the load average
// around each arm, the captures each made, and the per-layer cosine of the two arms' vectors (and
// of both against the engine's cached vectors, when the vector cache has them).
//   pnpm --filter @emosteer/bench extraction-speed [-- --engines onnx,llama.cpp --pairs 100 --threads N --out DIR]
// Writes benchmarks/engines.json "extractionSpeed" and "speed.extraction_*", and the
// "extraction-speed" section of benchmarks/ENGINES.md (to DIR instead with --out, for trial runs).
import { readFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import {
  CORE_EMOTIONS,
  type CaptureRequest,
  type ChatMessage,
  type ContrastSamples,
  cosineSimilarity,
  captureResponse,
  type Emotion,
  type EmotionVector,
  emotionVectorFromSamples,
  extractEmotionVectors,
  loadContrastCorpus,
  loadQueries,
  modelIdentity,
  type PooledResponse,
  type SteeringBackend,
} from "@emosteer/core";
import { cachedEmotionVectors, writeJsonKey, writeMarkdownSection } from "@emosteer/core/node";
import { type BackendName, isBackendName, openBackend } from "@emosteer/backends";
import { DEFAULT_MODEL_ID, ensureModel } from "@emosteer/models";

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === "--")),
  options: {
    model: { type: "string", default: DEFAULT_MODEL_ID },
    engines: { type: "string", default: "onnx,llama.cpp" },
    pairs: { type: "string", default: "100" },
    threads: { type: "string" },
    out: { type: "string" },
    /** Rewrite the Markdown section and the speed keys from the figures stored in engines.json, without measuring. */
    render: { type: "boolean", default: false },
  },
});
const engines = values.engines!.split(",").map((e) => e.trim());
for (const e of engines)
  if (!isBackendName(e)) throw new RangeError(`--engines: unknown engine "${e}"; use onnx, llama.cpp or transformers.js.`);
const pairs = Number(values.pairs);
if (!(Number.isInteger(pairs) && pairs >= 1)) throw new RangeError(`--pairs must be a whole number ≥ 1, got ${values.pairs}.`);
const threads = values.threads === undefined ? undefined : Number(values.threads);
const outDir = values.out ?? join(import.meta.dirname, "..", "..", "..", "benchmarks");
const log = (line: string) => process.stderr.write(`[extraction-speed] ${line}\n`);
const load = () => loadavg().map((x) => +x.toFixed(1));
const round1 = (x: number) => Math.round(x * 10) / 10;

interface Arm {
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly loadBefore: number[];
  readonly loadAfter: number[];
  readonly captures: number;
  readonly capturedTokens: number;
}

/** Runs `work` on a backend that counts its captures; wall and CPU seconds of this process. */
async function timed(
  backend: SteeringBackend,
  work: (counted: SteeringBackend) => Promise<Map<Emotion, EmotionVector>>,
): Promise<{ arm: Arm; vectors: Map<Emotion, EmotionVector> }> {
  let captures = 0;
  let capturedTokens = 0;
  const counted = new Proxy(backend, {
    get(target, key) {
      if (key === "captureResiduals")
        return (request: CaptureRequest) => {
          captures++;
          capturedTokens += request.spanEnd;
          return target.captureResiduals(request);
        };
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const loadBefore = load();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const vectors = await work(counted);
  const wallSeconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    arm: { wallSeconds, cpuSeconds: (used.user + used.system) / 1e6, loadBefore, loadAfter: load(), captures, capturedTokens },
    vectors,
  };
}

/** Progress on stderr every 10 %. */
function progressLog(label: string): (p: { done: number; total: number }) => void {
  let last = -10;
  return ({ done, total }) => {
    const pct = Math.floor((100 * done) / total);
    if (pct >= last + 10) {
      log(`${label}: ${pct} % (${done}/${total})`);
      last = pct;
    }
  };
}

/**
 * The extraction loop before issue 17, for the fixed corpus and mean-diff: every text captured
 * alone, in the order the pairs are planned (emotion by emotion), then the same per-layer samples
 * and the same `emotionVectorFromSamples` as core.
 */
async function extractOneAtATime(backend: SteeringBackend, onProgress: (p: { done: number; total: number }) => void) {
  const items = spread(loadContrastCorpus("fixed").items, pairs);
  const queries = new Map(loadQueries().queries.map((q) => [q.id, q.text]));
  const total = items.length * (CORE_EMOTIONS.length + 1);
  const neutral = new Map<string, PooledResponse>();
  const emotional = new Map<Emotion, PooledResponse[]>();
  let done = 0;
  const capture = async (context: ChatMessage[], text: string) => {
    const pooled = await captureResponse(backend, context, text, { pooling: "mean" });
    if (!pooled) throw new Error(`A contrast text tokenized to nothing: ${JSON.stringify(text)}`);
    onProgress({ done: ++done, total });
    return pooled;
  };
  for (const emotion of CORE_EMOTIONS) {
    const list: PooledResponse[] = [];
    for (const item of items) {
      const context: ChatMessage[] = [{ role: "user", content: queries.get(item.queryId)! }];
      if (!neutral.has(item.queryId)) neutral.set(item.queryId, await capture(context, item.neutral));
      list.push(await capture(context, item.emotional[emotion as keyof typeof item.emotional]));
    }
    emotional.set(emotion, list);
  }
  const { layerCount } = backend.model;
  const vectors = new Map<Emotion, EmotionVector>();
  for (const emotion of CORE_EMOTIONS) {
    const layers: ContrastSamples[] = Array.from({ length: layerCount }, () => ({ emotional: [], neutral: [] }));
    const norms = new Float64Array(layerCount);
    items.forEach((item, q) => {
      const n = neutral.get(item.queryId)!;
      const e = emotional.get(emotion)![q]!;
      n.layers.forEach((layer, i) => {
        (layers[layer]!.neutral as Float32Array[]).push(n.pooled[i]!);
        (layers[layer]!.emotional as Float32Array[]).push(e.pooled[i]!);
        norms[layer]! += n.tokenNorms[i]!;
      });
    });
    vectors.set(
      emotion,
      emotionVectorFromSamples({
        emotion,
        model: modelIdentity(backend.model),
        method: "mean-diff",
        layers,
        residualNorms: Float32Array.from(norms, (s, l) => (l === 0 ? 0 : s / items.length)),
        corpus: "fixed",
        corpusHash: "before-issue-17",
        backend: backend.name,
      }),
    );
  }
  return vectors;
}

/** core's `spread`: at most `max` entries, evenly spaced. */
function spread<T>(list: readonly T[], max: number): readonly T[] {
  if (max >= list.length) return list;
  return Array.from({ length: max }, (_, i) => list[Math.floor((i * list.length) / max)]!);
}

/** Lowest per-layer cosine (layers 1..L−1) over the five emotions, and where. */
function minCosine(a: Map<Emotion, EmotionVector>, b: Map<Emotion, EmotionVector>) {
  let min = 1;
  let at = "";
  for (const emotion of CORE_EMOTIONS) {
    const va = a.get(emotion)!;
    const vb = b.get(emotion)!;
    for (let l = 1; l < va.directions.length; l++) {
      const c = cosineSimilarity(va.directions[l]!, vb.directions[l]!);
      if (c < min) [min, at] = [c, `${emotion} layer ${l}`];
    }
  }
  return { min: Math.round(min * 1e7) / 1e7, at };
}

/** The engine's vectors in the vector cache, or null: an aborted signal makes a cache miss throw instead of extracting. */
async function cachedVectors(backend: SteeringBackend): Promise<Map<Emotion, EmotionVector> | null> {
  if (pairs !== 100) return null;
  try {
    return await cachedEmotionVectors(backend, { signal: AbortSignal.abort() });
  } catch {
    return null;
  }
}

/** An ONNX engine's export: its folder and what the exporter wrote about its graph (the figures depend on it). */
async function onnxGraph(backend: SteeringBackend): Promise<{ folder: string; formatVersion: unknown; ops: unknown } | null> {
  const dir = (backend as { modelDir?: unknown }).modelDir;
  if (typeof dir !== "string") return null;
  const config = JSON.parse(await readFile(join(dir, "config.json"), "utf8")) as { emosteer?: { formatVersion?: unknown; ops?: unknown } };
  return { folder: basename(dir), formatVersion: config.emosteer?.formatVersion ?? null, ops: config.emosteer?.ops ?? null };
}

interface EngineFigures {
  readonly engine: BackendName;
  /** The run that measured this engine (a run of other engines keeps this one's figures). */
  readonly command?: string;
  readonly measuredAt?: string;
  readonly graph?: { folder: string; formatVersion: unknown; ops: unknown };
  readonly before: Arm;
  readonly now: Arm;
  readonly speedup: number;
  readonly cosineNowVsBefore: { min: number; at: string };
  readonly cosineBeforeVsCache: { min: number; at: string } | null;
  readonly cosineNowVsCache: { min: number; at: string } | null;
}

const figures: EngineFigures[] = [];
let stored: { command: string; measuredAt: string } | null = null;
if (values.render) {
  const saved = JSON.parse(await readFile(join(outDir, "engines.json"), "utf8")).extractionSpeed as {
    command: string;
    measuredAt: string;
    engines: EngineFigures[];
  };
  figures.push(...saved.engines);
  stored = { command: saved.command, measuredAt: saved.measuredAt };
  await writeFigures();
}
const { path } = values.render ? { path: "" } : await ensureModel(values.model!);
if (!values.render) {
  // Engines this run does not measure keep the figures of the run that did (same pairs only).
  const saved = await readFile(join(outDir, "engines.json"), "utf8").then(
    (t) =>
      (JSON.parse(t) as { extractionSpeed?: { pairs: number; command: string; measuredAt: string; engines: EngineFigures[] } })
        .extractionSpeed,
    () => undefined,
  );
  if (saved?.pairs === pairs)
    for (const f of saved.engines)
      if (!engines.includes(f.engine)) figures.push({ command: saved.command, measuredAt: saved.measuredAt, ...f });
}
for (const engine of values.render ? [] : (engines as BackendName[])) {
  log(`${engine}: loading ${values.model}`);
  const backend = await openBackend(engine, { modelPath: path, ...(threads !== undefined ? { threads } : {}) });
  try {
    const cache = await cachedVectors(backend);
    const graph = await onnxGraph(backend);
    log(`${engine}: before (one capture at a time), load ${load().join(" ")}`);
    const before = await timed(backend, (b) => extractOneAtATime(b, progressLog(`${engine} before`)));
    log(`${engine}: before ${before.arm.wallSeconds.toFixed(1)} s wall, ${before.arm.cpuSeconds.toFixed(1)} s CPU`);
    log(`${engine}: now (extractEmotionVectors), load ${load().join(" ")}`);
    const now = await timed(backend, (b) => extractEmotionVectors(b, { maxQueries: pairs, onProgress: progressLog(`${engine} now`) }));
    log(`${engine}: now ${now.arm.wallSeconds.toFixed(1)} s wall, ${now.arm.cpuSeconds.toFixed(1)} s CPU`);
    figures.push({
      engine,
      command: runCommand(),
      measuredAt: new Date().toISOString(),
      ...(graph ? { graph } : {}),
      before: before.arm,
      now: now.arm,
      speedup: Math.round((100 * before.arm.wallSeconds) / now.arm.wallSeconds) / 100,
      cosineNowVsBefore: minCosine(now.vectors, before.vectors),
      cosineBeforeVsCache: cache ? minCosine(before.vectors, cache) : null,
      cosineNowVsCache: cache ? minCosine(now.vectors, cache) : null,
    });
  } finally {
    await backend.dispose();
  }
  await writeFigures(); // after each engine, so a long run that is stopped keeps what it measured
}
log(`wrote ${join(outDir, "engines.json")} and the ENGINES.md section in ${outDir}`);

function runCommand(): string {
  return `pnpm --filter @emosteer/bench extraction-speed -- --engines ${engines.join(",")} --pairs ${pairs}${threads !== undefined ? ` --threads ${threads}` : ""}`;
}

async function writeFigures(): Promise<void> {
  const measuredAt = stored?.measuredAt ?? new Date().toISOString();
  const command = stored?.command ?? runCommand();
  const runs = [
    ...new Set(figures.map((f) => `\`${f.command ?? command}\` (${(f.measuredAt ?? measuredAt).slice(0, 16).replace("T", " ")} UTC)`)),
  ];
  const fastest = figures.reduce((a, b) => (b.now.wallSeconds < a.now.wallSeconds ? b : a));
  const leastCpu = figures.reduce((a, b) => (b.now.cpuSeconds < a.now.cpuSeconds ? b : a));
  const json = join(outDir, "engines.json");
  await writeJsonKey(json, "extractionSpeed", {
    command,
    measuredAt,
    model: values.model,
    pairs,
    emotions: CORE_EMOTIONS,
    machine: "2 cores shared with other jobs (see the load averages)",
    engines: figures,
  });
  await writeJsonKey(json, "speed.extraction_s_5x100", round1(fastest.now.wallSeconds));
  await writeJsonKey(json, "speed.extraction_cpu_s_5x100", round1(fastest.now.cpuSeconds));
  await writeJsonKey(json, "speed.extraction_load_5x100", [...fastest.now.loadBefore, ...fastest.now.loadAfter]);
  await writeJsonKey(json, "speed.extraction_engine_5x100", fastest.engine);

  const row = (f: EngineFigures, arm: "before" | "now") => {
    const a = f[arm];
    return `| ${f.engine} | ${arm === "before" ? "before: one at a time" : "now: a query's texts together"} | ${a.captures} (${a.capturedTokens} tokens) | **${a.wallSeconds.toFixed(1)} s** | ${a.cpuSeconds.toFixed(1)} s | ${(a.cpuSeconds / 2).toFixed(1)} s | ${a.loadBefore[0]} → ${a.loadAfter[0]} |`;
  };
  const cos = (c: { min: number; at: string } | null) => (c ? `${c.min.toFixed(6)} (${c.at})` : "no cached vectors");
  await writeMarkdownSection(
    join(outDir, "ENGINES.md"),
    "extraction-speed",
    "apps/bench/scripts/extraction-speed.ts",
    [
      "## Extraction time: the five EVs from 100 pairs",
      "",
      `Produced by ${runs.join(" and ")}, ${values.model}, ${runs.length === 1 ? "one run" : "one run per engine (an engine's two arms always in one run)"}. The machine (2 cores) was shared with other jobs: the load average (1 min) is given at the start and end of each arm, and CPU seconds (this process, all its threads) say how much work each arm did, whatever share of the cores it got. Each arm extracts the five core EVs (mean-diff) from the fixed corpus's ${pairs} pairs: ${pairs * 6} captures (every neutral and emotional answer teacher-forced after its query, residuals over the whole answer). "before" is the loop as it was before issue 17 (one capture at a time, emotion by emotion; kept in the script as the reference); "now" is core's \`extractEmotionVectors\`, which requests the six texts of a query together: ONNX evaluates their shared chat prompt once and the six answers from its KV cache as the rows of one padded run (\`packages/backend-onnx/src/capture-batch.ts\`), on the export without its LM head (\`capture-graph.ts\`; both arms run there), llama.cpp captures them in a row so its capture context keeps the prompt's KV cache for all six (before, it could reuse it only from the neutral answer to the first emotion's). Tokens: the tokens each capture asked for, summed (what a pass over every text alone evaluates).`,
      "",
      "| engine | path | captures | wall | CPU | CPU ÷ 2 cores | load |",
      "| --- | --- | --- | --- | --- | --- | --- |",
      ...figures.flatMap((f) => [row(f, "before"), row(f, "now")]),
      "",
      ...figures.flatMap((f) =>
        f.graph
          ? [
              `${f.engine} ran the export \`${f.graph.folder}\` (format ${String(f.graph.formatVersion)}, ops \`${String(f.graph.ops ?? "standard")}\`).`,
              "",
            ]
          : [],
      ),
      "| engine | wall speed-up | CPU speed-up | lowest per-layer cosine, now vs before | before vs cached vectors | now vs cached vectors |",
      "| --- | --- | --- | --- | --- | --- |",
      ...figures.map(
        (f) =>
          `| ${f.engine} | ${f.speedup.toFixed(2)}× | ${(f.before.cpuSeconds / f.now.cpuSeconds).toFixed(2)}× | ${cos(f.cosineNowVsBefore)} | ${cos(f.cosineBeforeVsCache)} | ${cos(f.cosineNowVsCache)} |`,
      ),
      "",
      `Issue 17's target: ≤ 90 s wall for the five EVs from 100 pairs (\`speed.extraction_s_5x100\` = **${fastest.now.wallSeconds.toFixed(1)} s** on ${fastest.engine}, ${fastest.now.cpuSeconds.toFixed(1)} CPU s, load ${fastest.now.loadBefore[0]} → ${fastest.now.loadAfter[0]}; its CPU seconds over the 2 cores, the wall time it would take with both cores to itself and no thread overhead, are ${(fastest.now.cpuSeconds / 2).toFixed(1)} s: ${pairs !== 100 ? "not a 100-pair run" : fastest.now.wallSeconds <= 90 ? "met" : "not met"}), and per-layer cosine ≥ 0.999 to the vectors of the same engine before (${figures.every((f) => f.cosineNowVsBefore.min >= 0.999) ? "met" : "not met"} on ${figures.map((f) => f.engine).join(" and ")}). "Cached vectors" are the engine's files in the vector cache (\`~/.cache/emosteer/vectors\`), extracted earlier by the code of their day.`,
      "",
      `\`speed.extraction_s_5x100\` is the lowest wall time of the run's "now" arms; across engines wall times compare only at equal load. The least work (CPU seconds) was ${leastCpu.engine}'s: ${leastCpu.now.cpuSeconds.toFixed(1)} CPU s, ${(leastCpu.now.cpuSeconds / 2).toFixed(1)} s over the 2 cores (its "now" arm ran at load ${leastCpu.now.loadBefore[0]} → ${leastCpu.now.loadAfter[0]}).`,
      ...(figures.length < engines.length
        ? ["", `Not measured in this run (it was stopped first): ${engines.slice(figures.length).join(", ")}.`]
        : []),
    ].join("\n"),
  );
}
