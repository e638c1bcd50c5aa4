import { join } from "node:path";
import { BACKEND_NAMES } from "@emosteer/backends";
import { writeFileAtomic } from "@emosteer/core/node";
import { findModelSpec, hasOfflineSource, MODEL_REGISTRY } from "@emosteer/models";
import { summarize, summarizeLatency, summarizeLongTexts, type ExtractionRow, type LatencyRow, type LongTextRow, type SummaryRow } from "./aggregate.js";
import { compareCorpora, type CorpusComparison } from "./corpus-comparison.js";
import { benchPlots } from "./plots.js";
import type { RunScope, SkippedEngine } from "./run.js";
import type { BenchStore, CellRecord, ExtractionRecord, LongTextRecord, ResourceRecord, RunProvenance, SetupRecord } from "./store.js";

/** Everything the report is made of, computed from the database. */
export interface BenchSummary {
  readonly generated: string;
  /** Scope of the latest run. */
  readonly scope: RunScope;
  /** The scope each model/backend is reported with. */
  readonly scopes: readonly EngineScope[];
  readonly rows: readonly SummaryRow[];
  readonly extraction: readonly ExtractionRow[];
  readonly latency: readonly LatencyRow[];
  readonly long_text: readonly LongTextRow[];
  /** For every model/backend whose latest run steered with more than one contrast corpus. */
  readonly corpus_comparison: readonly CorpusComparison[];
  readonly resources: readonly { readonly model: string; readonly backend: string; readonly peak_rss_mb: number; readonly load_seconds: number }[];
  readonly skipped: readonly SkippedEngine[];
  /** The judge every judged figure of the report comes from. */
  readonly judge: { readonly id: string; readonly name: string };
  /** Every judge with judgements in the database and its EPS per model, engine and α (the report's judge first). */
  readonly judges: readonly JudgeComparison[];
  /** Each engine's recorded setup (fingerprint, numerics, template hash, steering, sampling). */
  readonly setups: readonly SetupRecord[];
  /** Machine, engine libraries and judge of every run, as recorded when it ran. */
  readonly runs: readonly RunSummary[];
}

/** One judge's reading of the same stored texts. */
export interface JudgeComparison {
  readonly id: string;
  readonly name: string;
  readonly cells: number;
  /** Macro-averaged over the grid emotions, single-emotion EV cells (α = 0: unsteered). */
  readonly eps: readonly { readonly model: string; readonly backend: string; readonly alpha: number; readonly eps: number | null; readonly hit_rate: number | null }[];
}

export interface RunSummary {
  readonly run_id: string;
  readonly started_at: string;
  readonly finished_at: string | null;
  readonly command: string | null;
  readonly temperature: number | null;
  readonly provenance: RunProvenance | null;
  readonly failed: readonly SkippedEngine[];
}

export interface ReportFiles {
  readonly report: string;
  readonly summary: string;
  readonly plots: readonly string[];
}

interface RunInfo {
  readonly scope: RunScope;
  readonly note: string | null;
  readonly argv: readonly string[] | null;
  readonly skipped: readonly SkippedEngine[];
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly provenance: RunProvenance | null;
}

/** The grid one model/backend is reported with: the scope of the latest run that included it. */
export interface EngineScope extends RunScope {
  readonly model: string;
  readonly backend: string;
  readonly command: string | null;
}

/**
 * Writes `REPORT.md`, `summary.json` and `plots/*.svg` under `outDir` from the database. Each model
 * and backend is reported with the scope (emotions, α, queries, tokens, seed, method, corpus) of
 * the latest run that included it, so runs of different models with different grids share one
 * report. Every file is written atomically.
 */
export async function writeReport(store: BenchStore, outDir: string, options: { readonly note?: string } = {}): Promise<ReportFiles> {
  const latest = await latestRun(store);
  if (!latest) throw new Error(`The bench database ${store.path} holds no run: run \`pnpm bench\` first.`);
  const run = options.note ? { ...latest, note: options.note } : latest;
  const { summary, cells } = await buildSummaryWithCells(store, run);
  const plots = await benchPlots(summary.rows, summary.latency);
  const plotPaths: string[] = [];
  for (const plot of plots) {
    const path = join(outDir, "plots", plot.file);
    await writeFileAtomic(path, plot.svg);
    plotPaths.push(path);
  }
  const summaryPath = join(outDir, "summary.json");
  await writeFileAtomic(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  const reportPath = join(outDir, "REPORT.md");
  await writeFileAtomic(reportPath, renderReport(summary, cells, plots.map((p) => ({ file: p.file, title: p.title })), run));
  return { report: reportPath, summary: summaryPath, plots: plotPaths };
}

/** What `summary.json` holds, computed from the database. */
export async function buildSummary(store: BenchStore): Promise<BenchSummary> {
  const run = await latestRun(store);
  if (!run) throw new Error(`The bench database ${store.path} holds no run: run \`pnpm bench\` first.`);
  return (await buildSummaryWithCells(store, run)).summary;
}

async function buildSummaryWithCells(store: BenchStore, run: RunInfo): Promise<{ summary: BenchSummary; cells: CellRecord[] }> {
  const scopes = await engineScopes(store);
  const judge = await reportJudge(store);
  const cells: CellRecord[] = [];
  const rows: SummaryRow[] = [];
  const extraction: ExtractionRecord[] = [];
  const long: LongTextRecord[] = [];
  const comparisons: CorpusComparison[] = [];
  const allCells = await store.cells({ judgeId: judge.id });
  const allExtractions = await store.extractions();
  const allLong = await store.longTexts(judge.id);
  const same = (a: { model: string; backend: string }, b: { model: string; backend: string }) => a.model === b.model && a.backend === b.backend;
  for (const scope of scopes) {
    const engineCells = allCells.filter((c) => same(c, scope));
    const mine = cellsInScope(engineCells, scope, scope.corpus);
    if (mine.length === 0) continue;
    cells.push(...mine);
    rows.push(...summarize(mine, { emotions: scope.emotions, alphas: scope.alphas, family }));
    const engineExtractions = allExtractions.filter((e) => same(e, scope));
    extraction.push(...engineExtractions.filter((e) => e.extraction === scope.method && (scope.corpora.includes(e.corpus) || e.corpus === "user")));
    if (scope.corpora.length > 1) {
      const byCorpus = new Map(scope.corpora.map((corpus) => [corpus, cellsInScope(engineCells, scope, corpus).filter((c) => c.method === "none" || (c.method === "ev" && c.corpus === corpus))]));
      comparisons.push(await compareCorpora({ ...scope, cells: byCorpus, extractions: engineExtractions }));
    }
    long.push(...allLong.filter((r) => same(r, scope) && r.seed === scope.seed && (r.condition === "none" || (r.extraction === scope.method && r.corpus === scope.corpus && r.alpha === scope.longAlpha))));
  }
  const engines = new Set(cells.map((c) => `${c.model}\u0000${c.backend}`));
  const inEngines = <T extends { model: string; backend: string }>(r: T) => engines.has(`${r.model}\u0000${r.backend}`);
  const judges: JudgeComparison[] = [];
  const judgeCounts = await store.judges();
  for (const j of [...judgeCounts].sort((a, b) => (a.judgeId === judge.id ? -1 : b.judgeId === judge.id ? 1 : 0))) {
    const theirs = j.judgeId === judge.id ? allCells : await store.cells({ judgeId: j.judgeId });
    const judgeRows = scopes.flatMap((scope) => summarize(cellsInScope(theirs.filter((c) => same(c, scope)), scope, scope.corpus), { emotions: scope.emotions, alphas: scope.alphas, family }));
    const eps: JudgeComparison["eps"][number][] = [];
    for (const scope of scopes) {
      for (const alpha of [...scope.alphas].sort((a, b) => a - b)) {
        const at = judgeRows.filter((r) => same(r, scope) && r.method === "ev" && r.alpha === alpha);
        if (at.length > 0) eps.push({ model: scope.model, backend: scope.backend, alpha, eps: mean(at.map((r) => r.eps)), hit_rate: mean(at.map((r) => r.hit_rate)) });
      }
    }
    judges.push({ id: j.judgeId, name: j.judgeName, cells: j.cells, eps });
  }
  const runs: RunSummary[] = (await store.runs()).map((r) => {
    const o = r.options as { argv?: string[]; temperature?: number } | null;
    return { run_id: r.runId, started_at: r.startedAt, finished_at: r.finishedAt, command: o?.argv ? `pnpm bench ${o.argv.join(" ")}` : null, temperature: o?.temperature ?? null, provenance: r.provenance, failed: r.skipped.filter((k) => k.failed) };
  });
  const summary: BenchSummary = {
    generated: new Date().toISOString(),
    scope: run.scope,
    scopes: scopes.filter(inEngines),
    rows,
    extraction: extractionRows(extraction),
    latency: summarizeLatency((await store.latency()).filter(inEngines)),
    long_text: summarizeLongTextsWithReference(long),
    corpus_comparison: comparisons,
    resources: latestResources((await store.resources()).filter(inEngines)),
    skipped: withUnmeasuredModels(
      run.skipped.filter((k) => !engines.has(`${k.model}\u0000${k.backend}`)),
      new Set(cells.map((c) => c.model)),
      engines,
    ),
    judge,
    judges,
    setups: (await store.setups()).filter(inEngines),
    runs,
  };
  return { summary, cells };
}

/**
 * The judge a report is scored with: the judge of the latest run, when it has judged cells here,
 * else the judge that has judged the most cells. Every cell of the report is that judge's.
 */
async function reportJudge(store: BenchStore): Promise<{ readonly id: string; readonly name: string }> {
  const judges = await store.judges();
  const runs = await store.runs();
  for (let i = runs.length - 1; i >= 0; i--) {
    const latest = runs[i]!.provenance?.judge;
    if (latest && judges.some((j) => j.judgeId === latest.id)) return latest;
  }
  const most = [...judges].sort((a, b) => b.cells - a.cells)[0];
  // A run whose engines all failed has no judged cell: its report still says why.
  if (!most) return { id: "", name: "none (no judged cell)" };
  return { id: most.judgeId, name: most.judgeName };
}

/** For every model/backend with stored cells, the scope of the latest run that included it. */
async function engineScopes(store: BenchStore): Promise<EngineScope[]> {
  const engines = new Map<string, { model: string; backend: string }>();
  for (const c of await store.texts()) engines.set(`${c.model}\u0000${c.backend}`, { model: c.model, backend: c.backend });
  const runs = await store.runs();
  const out: EngineScope[] = [];
  for (const engine of engines.values()) {
    for (let i = runs.length - 1; i >= 0; i--) {
      const options = runs[i]!.options as { scope?: RunScope; models?: string[] | "all"; backends?: string[] | "all"; argv?: string[] } | null;
      if (!options?.scope) continue;
      const hasModel = options.models === "all" || (options.models ?? []).includes(engine.model);
      const hasBackend = options.backends === "all" || (options.backends ?? []).includes(engine.backend);
      if (hasModel && hasBackend) {
        out.push({ ...withCorpora(options.scope), ...engine, command: options.argv ? `pnpm bench ${options.argv.join(" ")}` : null });
        break;
      }
    }
  }
  return out;
}

/** The run's skipped engines plus every registry model that has no results here, with the reason. */
function withUnmeasuredModels(skipped: readonly SkippedEngine[], measured: ReadonlySet<string>, engines: ReadonlySet<string>): SkippedEngine[] {
  const out = [...skipped];
  for (const model of measured) {
    for (const backend of BACKEND_NAMES) {
      if (engines.has(`${model}\u0000${backend}`) || out.some((s) => s.model === model && s.backend === backend)) continue;
      out.push({ model, backend, reason: "not part of the runs in this report (--backends)" });
    }
  }
  for (const spec of MODEL_REGISTRY) {
    if (measured.has(spec.id) || out.some((s) => s.model === spec.id)) continue;
    const hub = spec.sources.find((s) => s.kind === "huggingface");
    const reason = hasOfflineSource(spec)
      ? "weights available here, not part of this run (--models)"
      : `no weights reachable here (hub-only${hub && hub.kind === "huggingface" ? `: ${hub.repo}/${hub.file}` : ""}); family ${spec.family}`;
    out.push({ model: spec.id, backend: "all", reason });
  }
  return out;
}

/** Runs stored before `--corpora` existed have one corpus and no `corpora` field. */
function withCorpora(scope: RunScope): RunScope {
  return { ...scope, corpora: scope.corpora ?? [scope.corpus] };
}

/** The cells of the scope's grid whose vectors (if any) come from `corpus`. */
function cellsInScope(cells: readonly CellRecord[], scope: RunScope, corpus: string): CellRecord[] {
  const queries = new Set(scope.queryIds);
  return cells.filter(
    (c) =>
      c.maxTokens === scope.maxTokens &&
      c.seed === scope.seed &&
      queries.has(c.queryId) &&
      (c.extraction === "-" || (c.extraction === scope.method && c.corpus === corpus)),
  );
}

async function latestRun(store: BenchStore): Promise<RunInfo | null> {
  const runs = await store.runs();
  for (let i = runs.length - 1; i >= 0; i--) {
    const options = runs[i]!.options as { scope?: RunScope; argv?: string[]; note?: string | null } | null;
    if (options?.scope) return { scope: withCorpora(options.scope), note: options.note ?? null, argv: options.argv ?? null, skipped: runs[i]!.skipped, startedAt: runs[i]!.startedAt, finishedAt: runs[i]!.finishedAt, provenance: runs[i]!.provenance };
  }
  return null;
}

function family(model: string): string {
  try {
    return findModelSpec(model).family;
  } catch {
    return model;
  }
}

function extractionRows(records: readonly ExtractionRecord[]): ExtractionRow[] {
  const batches = new Map<string, ExtractionRecord[]>();
  for (const r of records) {
    const key = [r.model, r.backend, r.extraction, r.corpus, r.corpusHash, r.seconds].join("\u0000");
    if (!batches.has(key)) batches.set(key, []);
    batches.get(key)!.push(r);
  }
  return [...batches.values()].map((list) => ({
    model: list[0]!.model,
    backend: list[0]!.backend,
    seconds: list[0]!.seconds,
    queries: list[0]!.queries,
    emotions: list.map((r) => r.emotion).join(","),
    extraction_method: list[0]!.extraction,
    corpus: list[0]!.corpus,
  }));
}

function latestResources(records: readonly ResourceRecord[]): BenchSummary["resources"] {
  const latest = new Map<string, ResourceRecord>();
  for (const r of records) latest.set(`${r.model}\u0000${r.backend}`, r);
  return [...latest.values()].map((r) => ({ model: r.model, backend: r.backend, peak_rss_mb: r.peakRssBytes / 2 ** 20, load_seconds: r.loadSeconds }));
}

/** Steered long-text rows plus, for each, the unsteered texts judged for the same emotion (α = 0). */
function summarizeLongTextsWithReference(records: readonly LongTextRecord[]): LongTextRow[] {
  const steered = records.filter((r) => r.condition !== "none");
  const reference = records.filter((r) => r.condition === "none");
  const emotions = new Map<string, Set<string>>();
  for (const r of steered) {
    const key = `${r.model}\u0000${r.backend}`;
    if (!emotions.has(key)) emotions.set(key, new Set());
    emotions.get(key)!.add(r.emotion);
  }
  const relabelled = reference.flatMap((r) => [...(emotions.get(`${r.model}\u0000${r.backend}`) ?? [])].map((emotion) => ({ ...r, emotion, alpha: 0 })));
  return summarizeLongTexts([...steered, ...relabelled]).sort((a, b) => (a.model + a.backend + a.emotion + a.kind + a.alpha < b.model + b.backend + b.emotion + b.kind + b.alpha ? -1 : 1));
}

// ---------------------------------------------------------------------------------------------
// Markdown

const f = (x: number | null | undefined, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(digits));
const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : `${x >= 0 ? "+" : ""}${x.toFixed(0)} %`);
const ci = (c: readonly [number, number] | null | undefined, digits = 2) => (c ? ` [${f(c[0], digits)}, ${f(c[1], digits)}]` : "");

function mean(values: readonly (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

function engines(rows: readonly SummaryRow[]): { model: string; backend: string }[] {
  const seen = new Map<string, { model: string; backend: string }>();
  for (const r of rows) seen.set(`${r.model}\u0000${r.backend}`, { model: r.model, backend: r.backend });
  return [...seen.values()];
}

/** Macro average over the scope's judged emotions of one EV column at α. */
function evMean(rows: readonly SummaryRow[], model: string, backend: string, alpha: number, pick: (r: SummaryRow) => number | null): number | null {
  return mean(rows.filter((r) => r.model === model && r.backend === backend && r.method === "ev" && r.alpha === alpha).map(pick));
}

function table(header: readonly string[], body: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...body.map(line)].join("\n");
}

function renderReport(
  s: BenchSummary,
  cells: readonly CellRecord[],
  plots: readonly { file: string; title: string }[],
  run: RunInfo,
): string {
  const { rows } = s;
  const out: string[] = [];
  const engineList = engines(rows);
  const union = <T,>(lists: readonly (readonly T[])[]) => [...new Set(lists.flat())];
  const alphas = union(s.scopes.map((x) => x.alphas)).sort((a, b) => a - b);
  const emotions = union(s.scopes.map((x) => x.emotions));
  const scope = { ...s.scope, alphas, emotions, longAlpha: s.scopes[0]?.longAlpha ?? s.scope.longAlpha };
  out.push("# emosteer benchmark report", "");
  out.push(`Generated ${s.generated} from the bench database by \`pnpm bench\` (apps/bench). Do not edit by hand: \`pnpm bench --report-only\` regenerates it.`, "");

  out.push("## Setup", "");
  if (run?.note) out.push(run.note, "");
  out.push(
    ...s.scopes.map(
      (x) =>
        `- **${x.model} on ${x.backend}**: ${x.queryIds.length} evaluation queries, emotions ${x.emotions.join(", ")}, α ∈ {${x.alphas.join(", ")}}, at most ${x.maxTokens} new tokens, seed ${x.seed}, vectors \`${x.method}\` on the \`${x.corpus}\` corpus${x.corpora.length > 1 ? ` (also ${x.corpora.slice(1).map((c) => `\`${c}\``).join(", ")}: single-emotion cells, compared in "Contrast corpus")` : ""}${x.command ? `; command \`${x.command}\`` : ""}.`,
    ),
    ...setupLines(s),
    `- Queries: the evaluation split of \`packages/core/prompts/queries.json\`, taken round-robin over the queries' own emotions (every emotion's situations are represented), the same queries for every condition; the vectors come from the disjoint extraction split (\`fixed\`: the repo's contrast corpus, teacher-forced through each model).`,
    `- Generation: ${samplingText(s)}, the model's chat template, the user message only (no system prompt) for the unsteered and steered conditions.`,
    `- Prompt baseline: the emotion-conditioning system prompt of \`packages/core/prompts/system-prompts.json\`, no steering.`,
    `- Judge: every judged figure (EPS, hit rate, the claims) is judge **${s.judge.name}** of @emosteer/eval (id \`${s.judge.id}\`, its weights hash; 7 classes)${s.judges.length > 1 ? `; the database also holds the judgements of ${s.judges.filter((j) => j.id !== s.judge.id).map((j) => `${j.name} (\`${j.id.slice(0, 12)}\`)`).join(", ")}, compared in "Judges"` : ""}. EPS = mean judge probability of the target emotion; hit rate = share of answers whose top class is the target.`,
    `- EAS = NRC EmoLex hits of the target emotion per 100 words (negation-aware); ΔEAS = relative change against the unsteered answers to the same queries (paired).`,
    `- Fidelity = cosine similarity of all-MiniLM-L6-v2 embeddings of each answer and the unsteered answer to the same query (1 at α = 0 by definition). Perplexity = perplexity of the answer under the unsteered model given the query. Repetition = distinct-2 (unique bigrams / bigrams; lower = more repetitive).`,
    `- Intervals: seeded percentile bootstrap (1000 resamples) over queries, 95 %.`,
    ...machineLines(s),
    `- Latest run: ${run.startedAt}${run.finishedAt ? ` to ${run.finishedAt}` : " (not finished)"}.`,
    "",
  );

  if (s.judges.length > 1) out.push(...judgesSection(s));

  out.push("## Main table", "");
  out.push(`EPS and hit rate are macro-averaged over the judged emotions of each row's grid (see Setup). Fidelity, perplexity and distinct-2 are at α = +1 (α = 0 in parentheses for perplexity and distinct-2). Decode tok/s is unsteered; overhead is steered / unsteered decode time per token from the interleaved latency pairs.`, "");
  const header = ["model", "backend", ...alphas.map((a) => `EPS@${a}`), ...alphas.map((a) => `hit@${a}`), "ΔEAS@+1", "ΔEAS@−1", "fidelity@1", "perplexity@1 (@0)", "distinct-2@1 (@0)", "decode tok/s", "overhead"];
  const body = engineList.map(({ model, backend }) => {
    const lat = s.latency.find((l) => l.model === model && l.backend === backend);
    const unsteered = rows.find((r) => r.model === model && r.backend === backend && r.method === "ev" && r.alpha === 0);
    return [
      model,
      backend,
      ...alphas.map((a) => f(evMean(rows, model, backend, a, (r) => r.eps))),
      ...alphas.map((a) => f(evMean(rows, model, backend, a, (r) => r.hit_rate))),
      pct(evMean(rows, model, backend, 1, (r) => r.eas_delta_pct)),
      pct(evMean(rows, model, backend, -1, (r) => r.eas_delta_pct)),
      f(evMean(rows, model, backend, 1, (r) => r.fidelity)),
      `${f(evMean(rows, model, backend, 1, (r) => r.perplexity), 1)} (${f(unsteered?.perplexity, 1)})`,
      `${f(evMean(rows, model, backend, 1, (r) => r.distinct2))} (${f(unsteered?.distinct2)})`,
      f(lat?.unsteered_decode_tps ?? unsteered?.decode_tps, 1),
      lat ? `${f(lat.overhead_ratio, 3)}×` : "–",
    ];
  });
  out.push(table(header, body), "");
  for (const p of plots.filter((p) => p.file.startsWith("eps-") || p.file.startsWith("eas-"))) out.push(`![${p.title}](plots/${p.file})`, "");

  out.push("## Per emotion", "");
  out.push("EPS with its 95 % interval, and ΔEAS, per emotion and α (n = queries).", "");
  const perEmotion: string[][] = [];
  for (const { model, backend } of engineList) {
    for (const emotion of scope.emotions) {
      const mine = rows.filter((r) => r.model === model && r.backend === backend && r.method === "ev" && r.emotion === emotion);
      if (mine.length === 0) continue;
      perEmotion.push([
        model,
        backend,
        emotion,
        String(mine[0]!.n),
        ...alphas.map((a) => {
          const r = mine.find((x) => x.alpha === a);
          return r ? `${f(r.eps)}${ci(r.eps_ci)}` : "–";
        }),
        ...alphas.filter((a) => a !== 0).map((a) => pct(mine.find((x) => x.alpha === a)?.eas_delta_pct)),
      ]);
    }
  }
  out.push(table(["model", "backend", "emotion", "n", ...alphas.map((a) => `EPS@${a}`), ...alphas.filter((a) => a !== 0).map((a) => `ΔEAS@${a}`)], perEmotion), "");

  out.push("## Meaning and fluency against α", "");
  out.push("Means over emotions and queries.", "");
  const quality: string[][] = [];
  for (const { model, backend } of engineList) {
    for (const a of alphas) {
      if (!rows.some((r) => r.model === model && r.backend === backend && r.method === "ev" && r.alpha === a)) continue;
      quality.push([model, backend, String(a), f(evMean(rows, model, backend, a, (r) => r.fidelity)), f(evMean(rows, model, backend, a, (r) => r.perplexity), 1), f(evMean(rows, model, backend, a, (r) => r.distinct2)), f(evMean(rows, model, backend, a, (r) => r.eas))]);
    }
  }
  out.push(table(["model", "backend", "α", "fidelity", "perplexity", "distinct-2", "EAS"], quality), "");

  const promptRows = rows.filter((r) => r.method === "prompt");
  if (promptRows.length > 0) {
    out.push("## Prompt baseline against steering", "");
    out.push("The emotion-conditioning system prompt (no steering) against EV steering at α = 1 and α = 2, same queries.", "");
    const body = promptRows.map((p) => {
      const at = (a: number) => rows.find((r) => r.model === p.model && r.backend === p.backend && r.method === "ev" && r.emotion === p.emotion && r.alpha === a);
      return [p.model, p.backend, p.emotion, `${f(p.eps)}${ci(p.eps_ci)}`, f(at(1)?.eps), f(at(2)?.eps), f(p.hit_rate), f(at(1)?.hit_rate), pct(p.eas_delta_pct), pct(at(1)?.eas_delta_pct), f(p.fidelity), f(at(1)?.fidelity), f(p.perplexity, 1), f(at(1)?.perplexity, 1)];
    });
    out.push(table(["model", "backend", "emotion", "EPS prompt", "EPS EV@1", "EPS EV@2", "hit prompt", "hit EV@1", "ΔEAS prompt", "ΔEAS EV@1", "fidelity prompt", "fidelity EV@1", "ppl prompt", "ppl EV@1"], body), "");
  }

  const mixRows = rows.filter((r) => r.method === "mix");
  if (mixRows.length > 0) {
    out.push("## Two-emotion mix", "");
    out.push("Both vectors added at once; each row judges one of the mixed emotions, against that emotion alone at the same α.", "");
    const body = mixRows.map((m) => {
      const alone = rows.find((r) => r.model === m.model && r.backend === m.backend && r.method === "ev" && r.emotion === m.emotion && r.alpha === m.alpha);
      return [m.model, m.backend, m.emotion, String(m.alpha), `${f(m.eps)}${ci(m.eps_ci)}`, f(alone?.eps), f(m.hit_rate), pct(m.eas_delta_pct), f(m.fidelity), f(m.perplexity, 1)];
    });
    out.push(table(["model", "backend", "emotion", "α", "EPS mix", "EPS alone", "hit mix", "ΔEAS mix", "fidelity", "perplexity"], body), "");
  }

  if (s.corpus_comparison.length > 0) out.push(...corpusSection(s.corpus_comparison));

  out.push("## Speed, memory and extraction", "");
  if (s.latency.length > 0) {
    out.push(
      table(
        ["model", "backend", "pairs", "decode tok/s unsteered", "decode tok/s steered", "prompt tok/s unsteered", "prompt tok/s steered", "TTFT ms unsteered", "TTFT ms steered", "overhead"],
        s.latency.map((l) => [l.model, l.backend, String(l.pairs), f(l.unsteered_decode_tps, 1), f(l.steered_decode_tps, 1), f(l.unsteered_prompt_tps, 0), f(l.steered_prompt_tps, 0), f(l.unsteered_first_token_ms, 0), f(l.steered_first_token_ms, 0), `${f(l.overhead_ratio, 3)}×`]),
      ),
      "",
    );
  }
  const extractionBody = s.extraction.map((e) => [e.model, e.backend, e.emotions, e.extraction_method, e.corpus, String(e.queries), f(e.seconds, 1)]);
  if (extractionBody.length > 0) out.push("Extraction (contrast pairs teacher-forced through the model, for the `self` corpus after the model wrote them; the time of the run that extracted them, later runs load the cached files):", "", table(["model", "backend", "emotions", "method", "corpus", "pairs", "seconds"], extractionBody), "");
  if (s.resources.length > 0) out.push("Peak resident memory of the bench process (`process.resourceUsage().maxRSS`, whole process: judge, embedder and every engine loaded so far) and model load time:", "", table(["model", "backend", "peak RSS MiB", "load s"], s.resources.map((r) => [r.model, r.backend, f(r.peak_rss_mb, 0), f(r.load_seconds, 2)])), "");
  for (const p of plots.filter((p) => p.file.startsWith("overhead"))) out.push(`![${p.title}](plots/${p.file})`, "");

  if (s.long_text.length > 0) {
    out.push("## Long-text consistency", "");
    out.push(`EPS of each window of a long answer (${"windows"}: model-token windows of one answer) and of each dialogue turn (turns: one segment per assistant turn), steered at the α given in each row (\`--long-alpha\`), against the unsteered texts judged for the same emotion (α = 0). Prompts: \`packages/core/prompts/long-form.json\`.`, "");
    out.push(
      table(
        ["model", "backend", "emotion", "α", "kind", "texts", "EPS per segment", "mean", "min", "std within text"],
        s.long_text.map((l) => [l.model, l.backend, l.emotion, String(l.alpha), l.kind, String(l.texts), l.eps_by_segment.map((x) => f(x)).join(" → "), f(l.eps_mean), f(l.eps_min), f(l.eps_std)]),
      ),
      "",
    );
  }

  out.push("## The paper's claims", "");
  out.push(...claims(s), "");

  out.push("## Sample answers", "");
  const sampleQuery = cells.find((c) => c.method === "none")?.queryId;
  const sampleEmotion = scope.emotions[0];
  if (sampleQuery && sampleEmotion) {
    for (const { model, backend } of engineList) {
      out.push(`${model} on ${backend}, query \`${sampleQuery}\`, emotion ${sampleEmotion}:`, "");
      const mine = cells.filter((c) => c.model === model && c.backend === backend && c.queryId === sampleQuery);
      out.push(`> **Query:** ${oneLine(mine[0]?.query ?? "")}`, "");
      for (const a of alphas) {
        const c = mine.find((x) => (a === 0 ? x.method === "none" : x.method === "ev" && x.weights[sampleEmotion] === a));
        if (c) out.push(`- α = ${a} (EPS ${f(c.judge[sampleEmotion])}): ${oneLine(c.text).slice(0, 300)}`);
      }
      const p = mine.find((x) => x.method === "prompt" && x.weights[sampleEmotion] !== undefined);
      if (p) out.push(`- prompt baseline (EPS ${f(p.judge[sampleEmotion])}): ${oneLine(p.text).slice(0, 300)}`);
      out.push("");
    }
  }

  out.push("## Not measured here", "");
  if (s.skipped.length === 0) out.push("Every requested model and backend ran.");
  else out.push(table(["model", "backend", "reason"], s.skipped.map((k) => [k.model, k.backend, k.failed ? `**failed the run**: ${k.reason}` : k.reason])));
  out.push("");
  return `${out.join("\n")}\n`;
}

/** Each engine's recorded setup, and the steering spec they share, from the database. */
function setupLines(s: BenchSummary): string[] {
  const out: string[] = [];
  const steerings = [...new Set(s.setups.map((x) => JSON.stringify(x.setup.steering)))].map((j) => JSON.parse(j) as SetupRecord["setup"]["steering"]);
  for (const st of steerings) {
    const netShift = st.injection === "net-shift";
    out.push(
      `- Steering (recorded with the cells): "${st.injection}" injection on blocks ${st.layers} at every position, normalisation ${st.normalization}, layer scale ${st.layerScale}, profile ${st.profile}${netShift ? ": the residual stream at every layer l is shifted by α·EV[l] in total (row l = α·(EV[l] − EV[l−1]), since each block passes on what earlier blocks received), so α = 1 is the mean shift the contrast corpus produced" : ""}. Vectors are cached per model fingerprint, backend, method and corpus hash.`,
    );
  }
  if (s.setups.length > 0) {
    out.push(
      `- Engine setups (cells are keyed by these): ${s.setups.map((x) => `${x.model} on ${x.backend}: weights \`${x.setup.fingerprint}\`, ${x.setup.numerics}, chat template \`${x.setup.chatTemplate}\`, cell format ${x.setup.format}`).join("; ")}.`,
    );
  }
  return out;
}

/** The sampling the cells were made with, from the recorded setups (never assumed). */
export function samplingText(s: Pick<BenchSummary, "setups">): string {
  const temperatures = [...new Set(s.setups.map((x) => x.setup.sampling.temperature))].sort((a, b) => a - b);
  if (temperatures.length === 0) return "sampling not recorded";
  const one = (t: number) => (t === 0 ? "greedy decoding (temperature 0)" : `sampling at temperature ${t} (engine-default top-k/top-p, seeded)`);
  if (temperatures.length === 1) return one(temperatures[0]!);
  return s.setups.map((x) => `${x.model} on ${x.backend}: ${one(x.setup.sampling.temperature)}`).join("; ");
}

/** The machines of the runs, as recorded when each ran. */
function machineLines(s: BenchSummary): string[] {
  const machines = new Map<string, { text: string; runs: number }>();
  for (const r of s.runs) {
    const p = r.provenance;
    if (!p) continue;
    const m = p.machine;
    const text = `${m.cores} CPU core(s) (${m.cpuModel}), ${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB RAM, ${m.platform}, Node ${m.node}; engines ${Object.entries(p.engines).map(([e, v]) => `${e}: ${v}`).join(", ")}`;
    const known = machines.get(text);
    if (known) known.runs++;
    else machines.set(text, { text, runs: 1 });
  }
  if (machines.size === 0) return ["- Machine: not recorded in this database."];
  const loads = s.runs.filter((r) => r.provenance).map((r) => r.provenance!.machine.loadAverage[0] ?? 0);
  return [
    ...[...machines.values()].map((m) => `- Machine (recorded by ${m.runs} run(s)): ${m.text}.`),
    `- Load average (1 min) when the runs started: ${loads.map((l) => l.toFixed(2)).join(", ")}. Timings are comparable within one run only.`,
  ];
}

/** EPS of the same stored texts under each judge in the database. */
function judgesSection(s: BenchSummary): string[] {
  const out = ["## Judges", "", `The same stored texts, judged by each judge in the database (\`pnpm bench --rejudge --judge NAME\` adds a judge; texts are never regenerated). EPS and hit rate macro-averaged over the grid emotions; α = 0 is the unsteered answers. The report's figures are ${s.judge.name}'s.`, ""];
  const keys = new Map<string, { model: string; backend: string; alpha: number }>();
  for (const j of s.judges) for (const e of j.eps) keys.set(`${e.model}\u0000${e.backend}\u0000${e.alpha}`, e);
  const body = [...keys.values()].map((k) => [
    k.model,
    k.backend,
    String(k.alpha),
    ...s.judges.map((j) => f(j.eps.find((e) => e.model === k.model && e.backend === k.backend && e.alpha === k.alpha)?.eps)),
    ...s.judges.map((j) => f(j.eps.find((e) => e.model === k.model && e.backend === k.backend && e.alpha === k.alpha)?.hit_rate)),
  ]);
  out.push(table(["model", "backend", "α", ...s.judges.map((j) => `EPS ${j.name}`), ...s.judges.map((j) => `hit ${j.name}`)], body), "");
  out.push(`Judge ids: ${s.judges.map((j) => `${j.name} \`${j.id}\` (${j.cells} cells)`).join("; ")}.`, "");
  return out;
}

function corpusSection(comparisons: readonly CorpusComparison[]): string[] {
  const out: string[] = ["## Contrast corpus: fixed vs self-written", ""];
  out.push(
    "Vectors extracted from the repo's fixed contrast corpus (the same texts for every model, written once by a strong model and teacher-forced through the model) against vectors from answers the model wrote itself under the emotion-conditioning system prompts. The evaluation queries, the unsteered answers (α = 0), the judge and the metrics are the same: only the source of the vectors differs, so a gap here is the effect of the contrast text alone.",
    "",
    "EPS and hit rate are macro-averaged over the emotions steered with both corpora (listed per model); ΔEAS at α = ±1, fidelity and perplexity at α = 1. The primary corpus is the one of the main table, plots and claims (the two-emotion mix, latency and long texts use it only). Extraction seconds are those of the latest recorded extraction of each set (self-written: generating the answers included; – when the vectors were loaded from the cache of a run not in this database).",
    "",
  );
  const alphas = [...new Set(comparisons.flatMap((c) => c.rows.flatMap((r) => r.by_alpha.map((x) => x.alpha))))].sort((a, b) => a - b);
  const body = comparisons.flatMap((c) =>
    c.rows.map((r) => {
      const at = (a: number) => r.by_alpha.find((x) => x.alpha === a);
      return [
        c.model,
        c.backend,
        `${r.corpus}${r.primary ? " (primary)" : ""}`,
        c.emotions.join(", "),
        String(r.n),
        ...alphas.map((a) => f(at(a)?.eps)),
        ...alphas.map((a) => f(at(a)?.hit_rate)),
        pct(r.eas_delta_pct_plus1),
        pct(r.eas_delta_pct_minus1),
        f(r.fidelity_at_1),
        f(r.perplexity_at_1, 1),
        r.extraction_seconds === null ? "–" : `${f(r.extraction_seconds, 1)} (${r.extraction_queries} pairs)`,
      ];
    }),
  );
  out.push(table(["model", "backend", "corpus", "emotions", "n", ...alphas.map((a) => `EPS@${a}`), ...alphas.map((a) => `hit@${a}`), "ΔEAS@+1", "ΔEAS@−1", "fidelity@1", "perplexity@1", "extraction s"], body), "");
  const cosines = comparisons.flatMap((c) => (c.cosines ?? []).map((x) => [c.model, c.backend, x.emotion, `${c.corpora[0]} · ${c.corpora[1]}`, String(x.layer), f(x.cosine_at_layer, 3), f(x.cosine_mean_over_layers, 3)]));
  if (cosines.length > 0) {
    out.push(
      "Cosine similarity between the two vectors of each emotion, from the vector files recorded in the extraction table: at the middle layer k = ⌊L/2⌋, and the mean of the per-layer cosines over the steered layers 1..L−1. 1 means the two corpora found the same direction.",
      "",
      table(["model", "backend", "emotion", "corpora", "layer k", "cosine@k", "mean cosine over layers"], cosines),
      "",
    );
  }
  for (const c of comparisons.filter((c) => c.cosines === null)) out.push(`Cosine similarity of the vectors not shown for ${c.model} on ${c.backend}: ${c.cosine_note}.`, "");
  return out;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").replace(/\|/g, "\\|").trim();
}

/** One verdict per claim of the paper, with the figures it rests on (macro-averaged over emotions, per model/backend). */
function claims(s: BenchSummary): string[] {
  const out: string[] = [];
  const list = engines(s.rows);
  if (list.length === 0) return ["No steered results in the database."];
  const verdict = (supported: boolean, partly: boolean) => (supported ? "**supported**" : partly ? "**partly supported**" : "**not supported**");
  for (const { model, backend } of list) {
    const at = (a: number, pick: (r: SummaryRow) => number | null) => evMean(s.rows, model, backend, a, pick);
    const has = (a: number) => s.rows.some((r) => r.model === model && r.backend === backend && r.method === "ev" && r.alpha === a);
    out.push(`### ${model} on ${backend}`, "");
    const eps0 = at(0, (r) => r.eps);
    const distinct0 = at(0, (r) => r.distinct2);
    // A number met by degenerate text ("!!!!", one word repeated) is not the claim the paper makes.
    const degenerate = (a: number) => {
      const d = at(a, (r) => r.distinct2);
      return d !== null && distinct0 !== null && d < 0.8 * distinct0 ? ` At α = ${a} the text degenerates (distinct-2 ${f(d)} vs ${f(distinct0)} unsteered).` : "";
    };
    const judged = (met: boolean, partly: boolean, a: number) => {
      const broken = degenerate(a);
      return broken && met ? `**partly supported**: the figure is met, but by broken text.${broken}` : `${verdict(met, partly)}.${broken}`;
    };
    if (has(2)) {
      const eps2 = at(2, (r) => r.eps);
      out.push(`1. *2×EV drives the emotion probability to ≈ 1.0*: EPS@2 = ${f(eps2)} (EPS@0 = ${f(eps0)}). ${judged((eps2 ?? 0) >= 0.9, (eps2 ?? 0) >= 0.5 && (eps2 ?? 0) > (eps0 ?? 0) + 0.2, 2)}`);
    } else out.push("1. *2×EV → probability ≈ 1.0*: α = 2 not in this run.");
    if (has(1)) {
      const d1 = at(1, (r) => r.eas_delta_pct);
      out.push(`2. *1×EV raises EAS by ≥ 400 %*: ΔEAS@+1 = ${pct(d1)} (EAS@0 = ${f(at(0, (r) => r.eas))}, EAS@1 = ${f(at(1, (r) => r.eas))} hits per 100 words). ${judged((d1 ?? -Infinity) >= 400, (d1 ?? -Infinity) >= 100, 1)}`);
    } else out.push("2. *1×EV raises EAS ≥ 400 %*: α = 1 not in this run.");
    if (has(-1)) {
      const dm1 = at(-1, (r) => r.eas_delta_pct);
      out.push(`3. *−1×EV cuts EAS by ~90 %*: ΔEAS@−1 = ${pct(dm1)}. ${judged((dm1 ?? Infinity) <= -80, (dm1 ?? Infinity) <= -30, -1)}`);
    } else out.push("3. *−1×EV cuts EAS ~90 %*: α = −1 not in this run.");
    if (has(4) && has(2)) {
      const eps4 = at(4, (r) => r.eps);
      const eps2 = at(2, (r) => r.eps);
      const ppl0 = at(0, (r) => r.perplexity);
      const ppl4 = at(4, (r) => r.perplexity);
      const d0 = at(0, (r) => r.distinct2);
      const d4 = at(4, (r) => r.distinct2);
      const saturated = eps4 !== null && eps2 !== null && eps4 <= eps2 + 0.05;
      const hurt = (ppl4 !== null && ppl0 !== null && ppl4 > 1.5 * ppl0) || (d4 !== null && d0 !== null && d4 < 0.8 * d0);
      out.push(`4. *4×EV saturates and hurts fluency*: EPS@4 = ${f(eps4)} vs EPS@2 = ${f(eps2)}; perplexity ${f(ppl0, 1)} → ${f(ppl4, 1)}, distinct-2 ${f(d0)} → ${f(d4)} (α 0 → 4). ${verdict(saturated && hurt, saturated || hurt)}.`);
    } else out.push("4. *4× saturates and hurts fluency*: α = 2 and 4 not both in this run.");
    const moderate = [0.5, 1].filter(has);
    if (moderate.length > 0) {
      const fid = mean(moderate.map((a) => at(a, (r) => r.fidelity)));
      const ppl0 = at(0, (r) => r.perplexity);
      const ppl = mean(moderate.map((a) => at(a, (r) => r.perplexity)));
      const ratio = ppl !== null && ppl0 ? ppl / ppl0 : null;
      out.push(`5. *Meaning and fluency are otherwise kept (α ≤ 1)*: fidelity ${f(fid)} (cosine to the unsteered answer), perplexity ×${f(ratio)} of unsteered at α ∈ {${moderate.join(", ")}}. ${verdict((fid ?? 0) >= 0.7 && (ratio ?? Infinity) <= 1.5, (fid ?? 0) >= 0.5 && (ratio ?? Infinity) <= 2.5)} (thresholds: supported when fidelity ≥ 0.70 and perplexity ≤ 1.5× unsteered; partly when ≥ 0.50 and ≤ 2.5×).`);
    }
    const fluent = s.rows
      .filter((r) => r.model === model && r.backend === backend && r.method === "ev" && r.alpha !== null && r.alpha > 0)
      .map((r) => r.alpha!)
      .filter((a, i, all) => all.indexOf(a) === i)
      .filter((a) => !degenerate(a))
      .map((a) => ({ a, eps: at(a, (r) => r.eps), fid: at(a, (r) => r.fidelity), d: at(a, (r) => r.eas_delta_pct) }))
      .sort((x, y) => (y.eps ?? 0) - (x.eps ?? 0))[0];
    if (fluent) {
      out.push(`6. *Where steering works on this model*: the strongest α > 0 whose text stays fluent (distinct-2 ≥ 0.8× unsteered) is α = ${fluent.a}: EPS ${f(fluent.eps)} vs ${f(eps0)} unsteered, ΔEAS ${pct(fluent.d)}, fidelity ${f(fluent.fid)}.`);
    } else out.push("6. *Where steering works on this model*: no α > 0 in this run keeps the text fluent (distinct-2 ≥ 0.8× unsteered).");
    out.push("");
  }
  out.push("Verdict thresholds: claim 1 supported at EPS@2 ≥ 0.9 (partly ≥ 0.5 and 0.2 above EPS@0); claim 2 at ΔEAS@+1 ≥ 400 % (partly ≥ 100 %); claim 3 at ΔEAS@−1 ≤ −80 % (partly ≤ −30 %); claim 4 needs EPS@4 ≤ EPS@2 + 0.05 and perplexity > 1.5× or distinct-2 < 0.8× of α = 0 (one of the two: partly). A figure met only where the text degenerates (distinct-2 below 0.8× unsteered) counts as partly supported at most.");
  return out;
}
