import { aggregate, deltaEasPercent } from "@emosteer/eval";
import type { CellRecord, LatencyRecord, LongTextRecord } from "./store.js";

/** One aggregated cell of `summary.json` (snake_case field names are the published format). */
export interface SummaryRow {
  readonly model: string;
  readonly family: string;
  readonly backend: string;
  readonly emotion: string;
  /** α of the emotion; null for the prompt baseline (no steering). */
  readonly alpha: number | null;
  readonly method: "ev" | "prompt" | "mix";
  readonly n: number;
  /** Mean judge probability of `emotion`; null when the judge has no such class (user emotions). */
  readonly eps: number | null;
  readonly eps_ci: [number, number] | null;
  readonly hit_rate: number | null;
  readonly hit_rate_ci: [number, number] | null;
  /** Mean NRC lexicon hits of `emotion` per 100 words; null when the lexicon has no such category. */
  readonly eas: number | null;
  readonly eas_ci: [number, number] | null;
  /** 100 × (EAS − EAS at α = 0) / EAS at α = 0, paired by query; null when the baseline EAS is 0. */
  readonly eas_delta_pct: number | null;
  readonly eas_delta_ci: [number, number] | null;
  /** Mean cosine similarity (MiniLM embeddings) to the unsteered answer to the same query. */
  readonly fidelity: number | null;
  /** Mean perplexity of the answers under the unsteered model. */
  readonly perplexity: number | null;
  readonly distinct2: number | null;
  readonly decode_tps: number | null;
  readonly prompt_tps: number | null;
  /** Steered decode ms per token / unsteered decode ms per token, both from this run's cells. */
  readonly overhead_ratio: number | null;
  readonly first_token_ms: number | null;
  readonly extraction_method: string;
  readonly corpus: string;
  readonly max_tokens: number;
}

export interface ExtractionRow {
  readonly model: string;
  readonly backend: string;
  readonly seconds: number;
  readonly queries: number;
  readonly emotions: string;
  readonly extraction_method: string;
  readonly corpus: string;
}

/** Interleaved latency of one model/backend. */
export interface LatencyRow {
  readonly model: string;
  readonly backend: string;
  readonly pairs: number;
  readonly unsteered_decode_tps: number;
  readonly steered_decode_tps: number;
  readonly unsteered_prompt_tps: number;
  readonly steered_prompt_tps: number;
  readonly unsteered_first_token_ms: number;
  readonly steered_first_token_ms: number;
  /** Mean over pairs of steered ms/token ÷ unsteered ms/token. */
  readonly overhead_ratio: number;
}

/** Long-text consistency of one model/backend/emotion/kind. */
export interface LongTextRow {
  readonly model: string;
  readonly backend: string;
  readonly emotion: string;
  readonly alpha: number;
  readonly kind: "windows" | "turns";
  readonly texts: number;
  /** Mean EPS of each segment position (window or turn index), over texts. */
  readonly eps_by_segment: readonly number[];
  readonly eps_mean: number | null;
  readonly eps_min: number | null;
  /** Mean over texts of the population std of per-segment EPS. */
  readonly eps_std: number | null;
}

const JUDGE_CLASSES = new Set(["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]);
const LEXICON_CATEGORIES = new Set(["anger", "disgust", "fear", "joy", "sadness"]);

interface Group {
  readonly model: string;
  readonly backend: string;
  readonly method: SummaryRow["method"];
  readonly emotion: string;
  readonly alpha: number | null;
  readonly cells: CellRecord[];
}

/**
 * Aggregates stored cells into summary rows: for each model × backend, every grid emotion at
 * every α (α = 0 is the shared unsteered cells), the prompt baseline per emotion and each mix,
 * judged for each of its emotions. Intervals are seeded percentile bootstraps over queries.
 */
export function summarize(
  cells: readonly CellRecord[],
  options: { readonly emotions: readonly string[]; readonly alphas: readonly number[]; readonly family: (model: string) => string },
): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const byEngine = new Map<string, CellRecord[]>();
  for (const c of cells) {
    const key = `${c.model}\u0000${c.backend}`;
    if (!byEngine.has(key)) byEngine.set(key, []);
    byEngine.get(key)!.push(c);
  }
  for (const engineCells of byEngine.values()) {
    const { model, backend } = engineCells[0]!;
    const unsteered = engineCells.filter((c) => c.method === "none");
    const baselineByQuery = new Map(unsteered.map((c) => [c.queryId, c]));
    const baselineMsPerToken = msPerToken(unsteered);
    const groups: Group[] = [];
    const steeredExtraction = engineCells.find((c) => c.method === "ev" || c.method === "mix");
    for (const emotion of options.emotions) {
      for (const alpha of options.alphas) {
        const matching =
          alpha === 0
            ? unsteered
            : engineCells.filter((c) => c.method === "ev" && c.weights[emotion] === alpha && Object.keys(c.weights).length === 1);
        if (matching.length > 0) groups.push({ model, backend, method: "ev", emotion, alpha, cells: matching });
      }
      const prompted = engineCells.filter((c) => c.method === "prompt" && c.weights[emotion] !== undefined);
      if (prompted.length > 0) groups.push({ model, backend, method: "prompt", emotion, alpha: null, cells: prompted });
    }
    const mixes = new Map<string, CellRecord[]>();
    for (const c of engineCells.filter((c) => c.method === "mix")) {
      if (!mixes.has(c.condition)) mixes.set(c.condition, []);
      mixes.get(c.condition)!.push(c);
    }
    for (const mixCells of mixes.values()) {
      for (const [emotion, alpha] of Object.entries(mixCells[0]!.weights))
        groups.push({ model, backend, method: "mix", emotion, alpha, cells: mixCells });
    }
    for (const g of groups) {
      const sorted = [...g.cells].sort((a, b) => (a.queryId < b.queryId ? -1 : a.queryId > b.queryId ? 1 : 0));
      const judged = JUDGE_CLASSES.has(g.emotion);
      const lexical = LEXICON_CATEGORIES.has(g.emotion);
      const eps = judged ? aggregate(sorted.map((c) => c.judge[g.emotion] ?? 0)) : null;
      const hits = judged ? aggregate(sorted.map((c) => (topLabel(c.judge) === g.emotion ? 1 : 0))) : null;
      const eas = lexical ? aggregate(sorted.map((c) => c.lexicon[g.emotion] ?? 0)) : null;
      const paired = sorted.filter((c) => baselineByQuery.has(c.queryId));
      const delta =
        lexical && paired.length > 0
          ? deltaEasPercent(
              paired.map((c) => c.lexicon[g.emotion] ?? 0),
              paired.map((c) => baselineByQuery.get(c.queryId)!.lexicon[g.emotion] ?? 0),
            )
          : null;
      const ms = msPerToken(sorted);
      const extraction = g.method === "prompt" || g.alpha === 0 ? steeredExtraction : sorted[0];
      rows.push({
        model: g.model,
        family: options.family(g.model),
        backend: g.backend,
        emotion: g.emotion,
        alpha: g.alpha,
        method: g.method,
        n: sorted.length,
        eps: eps?.mean ?? null,
        eps_ci: eps ? [eps.low, eps.high] : null,
        hit_rate: hits?.mean ?? null,
        hit_rate_ci: hits ? [hits.low, hits.high] : null,
        eas: eas?.mean ?? null,
        eas_ci: eas ? [eas.low, eas.high] : null,
        eas_delta_pct: delta?.percent ?? null,
        eas_delta_ci: delta && delta.low !== null && delta.high !== null ? [delta.low, delta.high] : null,
        fidelity: meanOf(sorted.map((c) => c.fidelity)),
        perplexity: meanOf(sorted.map((c) => c.perplexity)),
        distinct2: meanOf(sorted.map((c) => c.distinct2)),
        decode_tps: ms === null ? null : 1000 / ms,
        prompt_tps: rate(sorted.map((c) => [c.promptTokens, c.promptMs])),
        overhead_ratio: ms !== null && baselineMsPerToken !== null ? ms / baselineMsPerToken : null,
        first_token_ms: meanOf(sorted.map((c) => c.firstTokenMs)),
        extraction_method: extraction?.extraction ?? "-",
        corpus: extraction?.corpus ?? "-",
        max_tokens: sorted[0]!.maxTokens,
      });
    }
  }
  return rows;
}

/** Interleaved latency pairs → one row per model/backend. */
export function summarizeLatency(records: readonly LatencyRecord[]): LatencyRow[] {
  const byEngine = new Map<string, LatencyRecord[]>();
  for (const r of records) {
    const key = `${r.model}\u0000${r.backend}`;
    if (!byEngine.has(key)) byEngine.set(key, []);
    byEngine.get(key)!.push(r);
  }
  const rows: LatencyRow[] = [];
  for (const list of byEngine.values()) {
    const steered = list.filter((r) => r.steered);
    const plain = list.filter((r) => !r.steered);
    const ratios: number[] = [];
    for (const s of steered) {
      const u = plain.find((p) => p.rep === s.rep && p.maxTokens === s.maxTokens);
      if (u && s.generatedTokens > 0 && u.generatedTokens > 0 && u.decodeMs > 0)
        ratios.push(s.decodeMs / s.generatedTokens / (u.decodeMs / u.generatedTokens));
    }
    if (ratios.length === 0) continue;
    rows.push({
      model: list[0]!.model,
      backend: list[0]!.backend,
      pairs: ratios.length,
      unsteered_decode_tps: rate(plain.map((r) => [r.generatedTokens, r.decodeMs])) ?? 0,
      steered_decode_tps: rate(steered.map((r) => [r.generatedTokens, r.decodeMs])) ?? 0,
      unsteered_prompt_tps: rate(plain.map((r) => [r.promptTokens, r.promptMs])) ?? 0,
      steered_prompt_tps: rate(steered.map((r) => [r.promptTokens, r.promptMs])) ?? 0,
      unsteered_first_token_ms: meanOf(plain.map((r) => r.firstTokenMs)) ?? 0,
      steered_first_token_ms: meanOf(steered.map((r) => r.firstTokenMs)) ?? 0,
      overhead_ratio: ratios.reduce((a, b) => a + b, 0) / ratios.length,
    });
  }
  return rows;
}

/** Per-segment EPS of long texts → one row per model/backend/emotion/α/kind. */
export function summarizeLongTexts(records: readonly LongTextRecord[]): LongTextRow[] {
  const groups = new Map<string, LongTextRecord[]>();
  for (const r of records) {
    const key = [r.model, r.backend, r.emotion, r.alpha, r.kind].join("\u0000");
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(r);
  }
  const rows: LongTextRow[] = [];
  for (const list of groups.values()) {
    const first = list[0]!;
    const judged = JUDGE_CLASSES.has(first.emotion);
    const perText = list.map((r) => r.segments.map((s) => s.judge[first.emotion] ?? 0));
    const longest = Math.max(0, ...perText.map((p) => p.length));
    const bySegment = Array.from({ length: longest }, (_, i) => meanOf(perText.map((p) => p[i] ?? null)) ?? 0);
    const all = perText.flat();
    rows.push({
      model: first.model,
      backend: first.backend,
      emotion: first.emotion,
      alpha: first.alpha,
      kind: first.kind,
      texts: list.length,
      eps_by_segment: judged ? bySegment : [],
      eps_mean: judged ? meanOf(all) : null,
      eps_min: judged && all.length ? Math.min(...all) : null,
      eps_std: judged ? meanOf(perText.filter((p) => p.length > 0).map((p) => std(p))) : null,
    });
  }
  return rows;
}

export function topLabel(probabilities: Readonly<Record<string, number>>): string {
  let best = "";
  let bestP = -Infinity;
  for (const [label, p] of Object.entries(probabilities)) {
    if (p > bestP) [best, bestP] = [label, p];
  }
  return best;
}

function msPerToken(cells: readonly CellRecord[]): number | null {
  const tps = rate(cells.map((c) => [c.generatedTokens, c.decodeMs]));
  return tps === null || tps === 0 ? null : 1000 / tps;
}

/** Σ count / Σ ms, per second; null without any timed work. */
function rate(pairs: readonly (readonly [number, number])[]): number | null {
  let count = 0;
  let ms = 0;
  for (const [c, m] of pairs) {
    if (c > 0 && m > 0) {
      count += c;
      ms += m;
    }
  }
  return ms > 0 ? (1000 * count) / ms : null;
}

export function meanOf(values: readonly (number | null)[]): number | null {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null;
}

function std(values: readonly number[]): number {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / values.length);
}
