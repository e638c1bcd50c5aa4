import { BACKEND_NAMES } from "@emosteer/backends";
import { describeFamilyEvidence, findModelSpec, hasOfflineSource, MODEL_REGISTRY } from "@emosteer/models";
import {
  summarize,
  summarizeLatency,
  summarizeLongTexts,
  type ExtractionRow,
  type LatencyRow,
  type LongTextRow,
  type SummaryRow,
} from "./aggregate.js";
import type { AlphaFigures, EngineAggregates } from "./claims.js";
import { compareCorpora, type CorpusComparison } from "./corpus-comparison.js";
import type { RunScope, SkippedEngine } from "./run.js";
import { summarizeSuppression, type SuppressionRow } from "./suppression.js";
import { vectorMaps, type VectorMap } from "./vector-map.js";
import type { BenchStore, CellRecord, ExtractionRecord, LongTextRecord, ResourceRecord, RunProvenance, SetupRecord } from "./store.js";

// The report's data: everything REPORT.md and summary.json show, computed from the database alone.

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
  /** The conditioning prompt alone against the prompt plus α·EV of its emotion (`--suppress`). */
  readonly suppression: readonly SuppressionRow[];
  /** The core EVs of each model/backend on a 2-D map (PCA at three depths) and their cosines. */
  readonly vector_maps: readonly VectorMap[];
  readonly resources: readonly {
    readonly model: string;
    readonly backend: string;
    readonly peak_rss_mb: number;
    readonly load_seconds: number;
  }[];
  readonly skipped: readonly SkippedEngine[];
  /** Every registry family: its architecture, what proves it (real weights or synthetic weights on which engines), and its models measured in this report. */
  readonly families: readonly {
    readonly family: string;
    readonly architecture: string;
    readonly evidence: string;
    readonly measured_here: readonly string[];
  }[];
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
  readonly eps: readonly {
    readonly model: string;
    readonly backend: string;
    readonly alpha: number;
    readonly eps: number | null;
    readonly hit_rate: number | null;
  }[];
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

export interface RunInfo {
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

/** What `summary.json` holds, computed from the database. */
export async function buildSummary(store: BenchStore): Promise<BenchSummary> {
  const run = await latestRun(store);
  if (!run) throw new Error(`The bench database ${store.path} holds no run: run \`pnpm bench\` first.`);
  return (await buildSummaryWithCells(store, run)).summary;
}

export async function buildSummaryWithCells(store: BenchStore, run: RunInfo): Promise<{ summary: BenchSummary; cells: CellRecord[] }> {
  const scopes = await engineScopes(store);
  const judge = await reportJudge(store);
  const cells: CellRecord[] = [];
  const rows: SummaryRow[] = [];
  const extraction: ExtractionRecord[] = [];
  const long: LongTextRecord[] = [];
  const comparisons: CorpusComparison[] = [];
  const suppression: SuppressionRow[] = [];
  const allCells = await store.cells({ judgeId: judge.id });
  const allExtractions = await store.extractions();
  const allLong = await store.longTexts(judge.id);
  const same = (a: { model: string; backend: string }, b: { model: string; backend: string }) =>
    a.model === b.model && a.backend === b.backend;
  for (const scope of scopes) {
    const engineCells = allCells.filter((c) => same(c, scope));
    const mine = cellsInScope(engineCells, scope, scope.corpus);
    if (mine.length === 0) continue;
    cells.push(...mine);
    rows.push(...summarize(mine, { emotions: scope.emotions, alphas: scope.alphas, family }));
    suppression.push(...summarizeSuppression(mine, scope.emotions));
    const engineExtractions = allExtractions.filter((e) => same(e, scope));
    extraction.push(
      ...engineExtractions.filter((e) => e.extraction === scope.method && (scope.corpora.includes(e.corpus) || e.corpus === "user")),
    );
    if (scope.corpora.length > 1) {
      const byCorpus = new Map(
        scope.corpora.map((corpus) => [
          corpus,
          cellsInScope(engineCells, scope, corpus).filter((c) => c.method === "none" || (c.method === "ev" && c.corpus === corpus)),
        ]),
      );
      comparisons.push(await compareCorpora({ ...scope, cells: byCorpus, extractions: engineExtractions }));
    }
    long.push(
      ...allLong.filter(
        (r) =>
          same(r, scope) &&
          r.seed === scope.seed &&
          (r.condition === "none" || (r.extraction === scope.method && r.corpus === scope.corpus && r.alpha === scope.longAlpha)),
      ),
    );
  }
  const engines = new Set(cells.map((c) => `${c.model}\u0000${c.backend}`));
  const inEngines = <T extends { model: string; backend: string }>(r: T) => engines.has(`${r.model}\u0000${r.backend}`);
  const judges: JudgeComparison[] = [];
  const judgeCounts = await store.judges();
  for (const j of [...judgeCounts].sort((a, b) => (a.judgeId === judge.id ? -1 : b.judgeId === judge.id ? 1 : 0))) {
    const theirs = j.judgeId === judge.id ? allCells : await store.cells({ judgeId: j.judgeId });
    const judgeRows = scopes.flatMap((scope) =>
      summarize(
        cellsInScope(
          theirs.filter((c) => same(c, scope)),
          scope,
          scope.corpus,
        ),
        { emotions: scope.emotions, alphas: scope.alphas, family },
      ),
    );
    const eps: JudgeComparison["eps"][number][] = [];
    for (const scope of scopes) {
      for (const alpha of [...scope.alphas].sort((a, b) => a - b)) {
        const at = judgeRows.filter((r) => same(r, scope) && r.method === "ev" && r.alpha === alpha);
        if (at.length > 0)
          eps.push({
            model: scope.model,
            backend: scope.backend,
            alpha,
            eps: mean(at.map((r) => r.eps)),
            hit_rate: mean(at.map((r) => r.hit_rate)),
          });
      }
    }
    judges.push({ id: j.judgeId, name: j.judgeName, cells: j.cells, eps });
  }
  const runs: RunSummary[] = (await store.runs()).map((r) => {
    const o = r.options as { argv?: string[]; temperature?: number } | null;
    return {
      run_id: r.runId,
      started_at: r.startedAt,
      finished_at: r.finishedAt,
      command: o?.argv ? `pnpm bench ${o.argv.join(" ")}` : null,
      temperature: o?.temperature ?? null,
      provenance: r.provenance,
      failed: r.skipped.filter((k) => k.failed),
    };
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
    suppression,
    vector_maps: await vectorMaps(
      extraction,
      (model, backend) => scopes.find((s) => s.model === model && s.backend === backend)?.corpus ?? "fixed",
    ),
    resources: latestResources((await store.resources()).filter(inEngines)),
    skipped: withUnmeasuredModels(
      run.skipped.filter((k) => !engines.has(`${k.model}\u0000${k.backend}`)),
      new Set(cells.map((c) => c.model)),
      engines,
    ),
    families: [...new Set(MODEL_REGISTRY.map((m) => m.family))].map((family) => {
      const models = MODEL_REGISTRY.filter((m) => m.family === family);
      return {
        family,
        architecture: [...new Set(models.map((m) => m.architecture))].join(", "),
        evidence: describeFamilyEvidence(family),
        measured_here: models.filter((m) => cells.some((c) => c.model === m.id)).map((m) => m.id),
      };
    }),
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
export async function reportJudge(store: BenchStore): Promise<{ readonly id: string; readonly name: string }> {
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
      const options = runs[i]!.options as {
        scope?: RunScope;
        models?: string[] | "all";
        backends?: string[] | "all";
        argv?: string[];
      } | null;
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
function withUnmeasuredModels(
  skipped: readonly SkippedEngine[],
  measured: ReadonlySet<string>,
  engines: ReadonlySet<string>,
): SkippedEngine[] {
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

export async function latestRun(store: BenchStore): Promise<RunInfo | null> {
  const runs = await store.runs();
  for (let i = runs.length - 1; i >= 0; i--) {
    const options = runs[i]!.options as { scope?: RunScope; argv?: string[]; note?: string | null } | null;
    if (options?.scope)
      return {
        scope: withCorpora(options.scope),
        note: options.note ?? null,
        argv: options.argv ?? null,
        skipped: runs[i]!.skipped,
        startedAt: runs[i]!.startedAt,
        finishedAt: runs[i]!.finishedAt,
        provenance: runs[i]!.provenance,
      };
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
  return [...latest.values()].map((r) => ({
    model: r.model,
    backend: r.backend,
    peak_rss_mb: r.peakRssBytes / 2 ** 20,
    load_seconds: r.loadSeconds,
  }));
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
  const relabelled = reference.flatMap((r) =>
    [...(emotions.get(`${r.model}\u0000${r.backend}`) ?? [])].map((emotion) => ({ ...r, emotion, alpha: 0 })),
  );
  return summarizeLongTexts([...steered, ...relabelled]).sort((a, b) =>
    a.model + a.backend + a.emotion + a.kind + a.alpha < b.model + b.backend + b.emotion + b.kind + b.alpha ? -1 : 1,
  );
}

// ---------------------------------------------------------------------------------------------
// Markdown

export function mean(values: readonly (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

export function engines(rows: readonly SummaryRow[]): { model: string; backend: string }[] {
  const seen = new Map<string, { model: string; backend: string }>();
  for (const r of rows) seen.set(`${r.model}\u0000${r.backend}`, { model: r.model, backend: r.backend });
  return [...seen.values()];
}

/** Macro average over the scope's judged emotions of one EV column at α. */
export function evMean(
  rows: readonly SummaryRow[],
  model: string,
  backend: string,
  alpha: number,
  pick: (r: SummaryRow) => number | null,
): number | null {
  return mean(rows.filter((r) => r.model === model && r.backend === backend && r.method === "ev" && r.alpha === alpha).map(pick));
}

/** One engine's macro means over emotions at each α of its single-emotion EV rows: what the verdicts read. */
export function engineAggregates(rows: readonly SummaryRow[], model: string, backend: string): EngineAggregates {
  const out = new Map<number, AlphaFigures>();
  const alphas = [
    ...new Set(
      rows.filter((r) => r.model === model && r.backend === backend && r.method === "ev" && r.alpha !== null).map((r) => r.alpha!),
    ),
  ];
  for (const a of alphas) {
    const at = (pick: (r: SummaryRow) => number | null) => evMean(rows, model, backend, a, pick);
    out.set(a, {
      eps: at((r) => r.eps),
      eas: at((r) => r.eas),
      easDeltaPct: at((r) => r.eas_delta_pct),
      distinct2: at((r) => r.distinct2),
      perplexity: at((r) => r.perplexity),
      fidelity: at((r) => r.fidelity),
    });
  }
  return out;
}
