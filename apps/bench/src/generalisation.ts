import { bootstrapIntervalOfSamples } from "@emosteer/eval";
import { topLabel } from "./aggregate.js";
import type { CellRecord } from "./store.js";

/** One condition of one engine measured on both query sets. */
export interface GeneralisationRow {
  readonly model: string;
  readonly backend: string;
  /** `none` rows are the unsteered answers read for `emotion`. */
  readonly method: "none" | "ev" | "prompt";
  readonly emotion: string;
  /** α of the emotion vector; 0 for `none`, null for the prompt baseline. */
  readonly alpha: number | null;
  readonly n_in_sample: number;
  readonly n_new: number;
  readonly eps_in_sample: number;
  readonly eps_new: number;
  /** EPS on the new queries minus EPS in-sample. */
  readonly eps_difference: number;
  /** Bootstrap 95 % interval of the difference, both query sets resampled independently. */
  readonly eps_difference_ci: [number, number];
  readonly hit_rate_in_sample: number;
  readonly hit_rate_new: number;
  readonly fidelity_in_sample: number | null;
  readonly fidelity_new: number | null;
}

/** The steered cells of one engine taken together: the target's figure. */
export interface GeneralisationHeadline {
  readonly model: string;
  readonly backend: string;
  /** How many (emotion, α ≠ 0) EV conditions were paired across the two query sets. */
  readonly conditions: number;
  /** Mean over those conditions of (EPS new − EPS in-sample). */
  readonly mean_difference: number;
  readonly mean_difference_ci: [number, number];
  /** The target: the interval inside ±`tolerance`. */
  readonly tolerance: number;
  readonly within_tolerance: boolean;
}

export interface Generalisation {
  readonly rows: readonly GeneralisationRow[];
  readonly headlines: readonly GeneralisationHeadline[];
}

/** What a cell's condition is measured as, when it takes part in the comparison. */
interface ConditionRef {
  readonly method: GeneralisationRow["method"];
  readonly emotion: string;
  readonly alpha: number | null;
}

/** One set's per-query values of one condition, indexed like that set's query list. */
interface SetValues {
  readonly eps: Float64Array;
  readonly hit: Float64Array;
  readonly fidelity: Float64Array;
}

const RESAMPLES = 2000;

/**
 * In-sample against new-query figures: for every engine and condition present in both sets of
 * cells, EPS, hit rate and fidelity on each set and the EPS difference with a bootstrap interval
 * that resamples each set's queries on its own (a query keeps all its conditions, so conditions
 * are paired). The headline pools the steered EV conditions of an engine.
 */
export function compareQuerySets(
  inSample: readonly CellRecord[],
  newQueries: readonly CellRecord[],
  options: { readonly emotions: readonly string[]; readonly tolerance?: number },
): Generalisation {
  const tolerance = options.tolerance ?? 0.05;
  const rows: GeneralisationRow[] = [];
  const headlines: GeneralisationHeadline[] = [];
  for (const engine of engines(inSample)) {
    const a = inSample.filter((c) => c.model === engine.model && c.backend === engine.backend);
    const b = newQueries.filter((c) => c.model === engine.model && c.backend === engine.backend);
    if (b.length === 0) continue;
    const queriesA = queryIndex(a);
    const queriesB = queryIndex(b);
    const refs = conditionRefs(a, options.emotions).filter((r) => conditionRefs(b, options.emotions).some((s) => sameRef(r, s)));
    const paired: { ref: ConditionRef; a: SetValues; b: SetValues }[] = [];
    for (const ref of refs) {
      const valuesA = setValues(a, ref, queriesA);
      const valuesB = setValues(b, ref, queriesB);
      paired.push({ ref, a: valuesA, b: valuesB });
      const difference = (ia: Int32Array, ib: Int32Array) => meanAt(valuesB.eps, ib) - meanAt(valuesA.eps, ia);
      const ci = bootstrapIntervalOfSamples([queriesA.size, queriesB.size], ([ia, ib]) => difference(ia!, ib!), { resamples: RESAMPLES });
      const epsA = meanOf(valuesA.eps);
      const epsB = meanOf(valuesB.eps);
      rows.push({
        model: engine.model,
        backend: engine.backend,
        method: ref.method,
        emotion: ref.emotion,
        alpha: ref.alpha,
        n_in_sample: count(valuesA.eps),
        n_new: count(valuesB.eps),
        eps_in_sample: epsA,
        eps_new: epsB,
        eps_difference: epsB - epsA,
        eps_difference_ci: [ci.low, ci.high],
        hit_rate_in_sample: meanOf(valuesA.hit),
        hit_rate_new: meanOf(valuesB.hit),
        fidelity_in_sample: nullable(meanOf(valuesA.fidelity)),
        fidelity_new: nullable(meanOf(valuesB.fidelity)),
      });
    }
    const steered = paired.filter((p) => p.ref.method === "ev" && p.ref.alpha !== 0);
    if (steered.length === 0) continue;
    const pooled = (ia: Int32Array, ib: Int32Array) => {
      let sum = 0;
      for (const p of steered) sum += meanAt(p.b.eps, ib) - meanAt(p.a.eps, ia);
      return sum / steered.length;
    };
    const identity = (n: number) => Int32Array.from({ length: n }, (_, i) => i);
    const mean = pooled(identity(queriesA.size), identity(queriesB.size));
    const ci = bootstrapIntervalOfSamples([queriesA.size, queriesB.size], ([ia, ib]) => pooled(ia!, ib!), { resamples: RESAMPLES });
    headlines.push({
      model: engine.model,
      backend: engine.backend,
      conditions: steered.length,
      mean_difference: mean,
      mean_difference_ci: [ci.low, ci.high],
      tolerance,
      within_tolerance: ci.low >= -tolerance && ci.high <= tolerance,
    });
  }
  return { rows, headlines };
}

function engines(cells: readonly CellRecord[]): { model: string; backend: string }[] {
  const seen = new Map<string, { model: string; backend: string }>();
  for (const c of cells) seen.set(`${c.model}\u0000${c.backend}`, { model: c.model, backend: c.backend });
  return [...seen.values()];
}

function queryIndex(cells: readonly CellRecord[]): Map<string, number> {
  const ids = [...new Set(cells.map((c) => c.queryId))].sort();
  return new Map(ids.map((id, i) => [id, i]));
}

/** The comparable conditions of a set: unsteered (read per emotion), single-emotion EV cells and prompt baselines. */
function conditionRefs(cells: readonly CellRecord[], emotions: readonly string[]): ConditionRef[] {
  const refs: ConditionRef[] = [];
  const has = (ref: ConditionRef) => refs.some((r) => sameRef(r, ref));
  for (const c of cells) {
    const weights = Object.entries(c.weights);
    if (c.method === "none") for (const emotion of emotions) pushNew({ method: "none", emotion, alpha: 0 });
    else if (c.method === "ev" && weights.length === 1 && emotions.includes(weights[0]![0]))
      pushNew({ method: "ev", emotion: weights[0]![0], alpha: weights[0]![1] });
    else if (c.method === "prompt" && weights.length === 1 && emotions.includes(weights[0]![0]))
      pushNew({ method: "prompt", emotion: weights[0]![0], alpha: null });
  }
  return refs.sort(compareRefs);
  function pushNew(ref: ConditionRef) {
    if (!has(ref)) refs.push(ref);
  }
}

function sameRef(a: ConditionRef, b: ConditionRef): boolean {
  return a.method === b.method && a.emotion === b.emotion && a.alpha === b.alpha;
}

const METHOD_ORDER = { none: 0, ev: 1, prompt: 2 } as const;
function compareRefs(a: ConditionRef, b: ConditionRef): number {
  if (a.emotion !== b.emotion) return a.emotion < b.emotion ? -1 : 1;
  if (a.method !== b.method) return METHOD_ORDER[a.method] - METHOD_ORDER[b.method];
  return (a.alpha ?? 0) - (b.alpha ?? 0);
}

function matches(cell: CellRecord, ref: ConditionRef): boolean {
  if (ref.method === "none") return cell.method === "none";
  const weights = Object.keys(cell.weights);
  if (cell.method !== ref.method || weights.length !== 1 || weights[0] !== ref.emotion) return false;
  return ref.method === "prompt" || cell.weights[ref.emotion] === ref.alpha;
}

/** NaN marks a query the condition has no cell for (a run cut short); means skip it. */
function setValues(cells: readonly CellRecord[], ref: ConditionRef, queries: Map<string, number>): SetValues {
  const eps = new Float64Array(queries.size).fill(Number.NaN);
  const hit = new Float64Array(queries.size).fill(Number.NaN);
  const fidelity = new Float64Array(queries.size).fill(Number.NaN);
  for (const c of cells) {
    if (!matches(c, ref)) continue;
    const i = queries.get(c.queryId)!;
    eps[i] = c.judge[ref.emotion] ?? 0;
    hit[i] = topLabel(c.judge) === ref.emotion ? 1 : 0;
    fidelity[i] = c.fidelity ?? Number.NaN;
  }
  return { eps, hit, fidelity };
}

function meanAt(values: Float64Array, indices: Int32Array): number {
  let sum = 0;
  let n = 0;
  for (const i of indices) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    sum += v;
    n++;
  }
  return n === 0 ? Number.NaN : sum / n;
}

function meanOf(values: Float64Array): number {
  return meanAt(
    values,
    Int32Array.from({ length: values.length }, (_, i) => i),
  );
}

function count(values: Float64Array): number {
  return values.reduce((n, v) => (Number.isNaN(v) ? n : n + 1), 0);
}

function nullable(value: number): number | null {
  return Number.isNaN(value) ? null : value;
}
