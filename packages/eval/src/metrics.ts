/**
 * Pure metric functions (no I/O, no models): EPS, hit rate, EAS and ΔEAS, embedding similarity,
 * repetition, long-text windows, and seeded bootstrap intervals. Formulas: docs/metrics.md.
 */
import { NonFiniteValueError, cosineSimilarity } from "@emosteer/core";
import { seededRandom } from "./random.js";

// Re-exported so the metrics read as one module; the one implementation lives in core.
export { cosineSimilarity };

/** A mean over n items with a seeded percentile-bootstrap 95 % interval. */
export interface Aggregate {
  readonly mean: number;
  /** Lower end of the bootstrap 95 % interval (2.5th percentile of resampled means). */
  readonly low: number;
  /** Upper end (97.5th percentile). */
  readonly high: number;
  readonly n: number;
}

export interface BootstrapOptions {
  /** Defaults to 1000. */
  readonly resamples?: number;
  /** Defaults to 0. */
  readonly seed?: number;
}

function assertFinite(values: ArrayLike<number>, where: string): void {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) throw new NonFiniteValueError(where, i, values[i]!);
}

function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s / values.length;
}

function percentile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Bootstrap of any statistic over n paired items: each resample draws n item indices with
 * replacement (seeded) and evaluates `statistic(indices)`; resamples where it returns null are
 * skipped. Returns the 2.5th and 97.5th percentiles. Throws on n = 0.
 */
export function bootstrapInterval(
  n: number,
  statistic: (indices: Int32Array) => number | null,
  options: BootstrapOptions = {},
): { low: number; high: number } {
  return bootstrapIntervalOfSamples([n], (indices) => statistic(indices[0]!), options);
}

/**
 * The same over independent samples (e.g. two query sets compared): each resample draws every
 * sample's indices with replacement, all from one seeded stream, and evaluates
 * `statistic(indices)` with one index array per sample. Throws when a sample is empty.
 */
export function bootstrapIntervalOfSamples(
  sizes: readonly number[],
  statistic: (indices: readonly Int32Array[]) => number | null,
  options: BootstrapOptions = {},
): { low: number; high: number } {
  if (sizes.length === 0 || sizes.some((n) => n === 0))
    throw new RangeError("Cannot bootstrap over 0 items: there are no values to aggregate.");
  const random = seededRandom(options.seed ?? 0);
  const resamples = options.resamples ?? 1000;
  const stats: number[] = [];
  const indices = sizes.map((n) => new Int32Array(n));
  for (let r = 0; r < resamples; r++) {
    for (const sample of indices) for (let i = 0; i < sample.length; i++) sample[i] = Math.floor(random() * sample.length);
    const s = statistic(indices);
    if (s !== null && Number.isFinite(s)) stats.push(s);
  }
  if (stats.length === 0) return { low: Number.NEGATIVE_INFINITY, high: Number.POSITIVE_INFINITY };
  const sorted = Float64Array.from(stats).sort();
  return { low: percentile(sorted, 0.025), high: percentile(sorted, 0.975) };
}

/** Mean of `values` with a bootstrap 95 % interval. Throws RangeError on no values, NonFiniteValueError on NaN/∞. */
export function aggregate(values: ArrayLike<number>, options: BootstrapOptions = {}): Aggregate {
  assertFinite(values, "aggregate input");
  if (values.length === 0) throw new RangeError("Cannot aggregate 0 values: there is nothing to average (did every generation fail?).");
  const { low, high } = bootstrapInterval(
    values.length,
    (idx) => {
      let s = 0;
      for (const i of idx) s += values[i]!;
      return s / idx.length;
    },
    options,
  );
  return { mean: mean(values), low, high, n: values.length };
}

/** EPS: mean judge probability of the target emotion over responses. */
export function emotionProbabilityScore(targetProbabilities: ArrayLike<number>, options?: BootstrapOptions): Aggregate {
  return aggregate(targetProbabilities, options);
}

/** Hit rate: share of responses whose top judge class is the target. */
export function hitRate(topLabels: readonly string[], target: string, options?: BootstrapOptions): Aggregate {
  return aggregate(
    topLabels.map((l) => (l === target ? 1 : 0)),
    options,
  );
}

/** EAS: mean lexicon hits per 100 words of the target emotion over responses. */
export function emotionAlignmentScore(perHundredWords: ArrayLike<number>, options?: BootstrapOptions): Aggregate {
  return aggregate(perHundredWords, options);
}

/** Relative change of EAS at α against α = 0, in percent; null fields when the baseline EAS is 0. */
export interface RelativeChange {
  /** 100 × (mean(steered) − mean(baseline)) / mean(baseline), or null when mean(baseline) = 0. */
  readonly percent: number | null;
  /** Paired bootstrap interval of `percent` (resamples with a zero baseline mean skipped); null with `percent`. */
  readonly low: number | null;
  readonly high: number | null;
  /** Absolute change mean(steered) − mean(baseline), always defined. */
  readonly absolute: number;
  readonly n: number;
}

/**
 * ΔEAS %: relative EAS change of steered responses against the unsteered ones for the same queries
 * (paired by index, so the bootstrap resamples queries). Throws when the arrays differ in length or are empty.
 */
export function deltaEasPercent(steered: ArrayLike<number>, baseline: ArrayLike<number>, options?: BootstrapOptions): RelativeChange {
  if (steered.length !== baseline.length)
    throw new RangeError(`ΔEAS needs paired responses: ${steered.length} steered vs ${baseline.length} baseline`);
  assertFinite(steered, "ΔEAS steered input");
  assertFinite(baseline, "ΔEAS baseline input");
  const n = steered.length;
  if (n === 0) throw new RangeError("Cannot compute ΔEAS over 0 responses.");
  const s = mean(steered);
  const b = mean(baseline);
  const absolute = s - b;
  if (b === 0) return { percent: null, low: null, high: null, absolute, n };
  const { low, high } = bootstrapInterval(
    n,
    (idx) => {
      let ss = 0;
      let bb = 0;
      for (const i of idx) {
        ss += steered[i]!;
        bb += baseline[i]!;
      }
      return bb === 0 ? null : (100 * (ss - bb)) / bb;
    },
    options,
  );
  return { percent: (100 * absolute) / b, low, high, absolute, n };
}

/** Mean paired cosine similarity (fidelity: steered vs unsteered response; relevance: response vs query). */
export function pairedSimilarity(
  left: readonly ArrayLike<number>[],
  right: readonly ArrayLike<number>[],
  options?: BootstrapOptions,
): Aggregate {
  if (left.length !== right.length) throw new RangeError(`Similarity needs pairs: ${left.length} vs ${right.length} embeddings`);
  return aggregate(
    left.map((l, i) => cosineSimilarity(l, right[i]!)),
    options,
  );
}

/** Perplexity exp(−mean log p) of a scored continuation; null for an empty continuation (no tokens to score). */
export function perplexityFromLogProbs(logProbs: ArrayLike<number>): number | null {
  assertFinite(logProbs, "continuation log-probabilities");
  if (logProbs.length === 0) return null;
  return Math.exp(-mean(logProbs));
}

/** Lower-cased whitespace tokens (the unit of distinct-2, repetition and windows). */
export function whitespaceTokens(text: string): string[] {
  return text
    .toLowerCase()
    .split(/\s+/)
    .filter((t) => t !== "");
}

/** distinct-2: unique token bigrams / all token bigrams; 0 for a text with fewer than 2 tokens (an empty reply is penalised). */
export function distinct2(text: string): number {
  const t = whitespaceTokens(text);
  if (t.length < 2) return 0;
  const seen = new Set<string>();
  for (let i = 0; i + 1 < t.length; i++) seen.add(`${t[i]}\u0000${t[i + 1]}`);
  return seen.size / (t.length - 1);
}

/**
 * Longest repeated n-gram share: L / N, where L is the length of the longest token sequence that
 * occurs at least twice (occurrences may overlap) and N the token count; 0 for fewer than 2 tokens.
 * "a b c a b c" → 3/6 = 0.5; a loop "x y x y x y x y" → 6/8 = 0.75.
 */
export function longestRepeatedNgramShare(text: string): number {
  const t = whitespaceTokens(text);
  const n = t.length;
  if (n < 2) return 0;
  const ids = new Int32Array(n);
  const vocab = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    let id = vocab.get(t[i]!);
    if (id === undefined) {
      id = vocab.size;
      vocab.set(t[i]!, id);
    }
    ids[i] = id;
  }
  // lcp[j] for the current i: longest common prefix of the suffixes at i and j (j > i), computed right-to-left.
  let longest = 0;
  let next = new Int32Array(n + 1);
  let cur = new Int32Array(n + 1);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = n - 1; j > i; j--) {
      cur[j] = ids[i] === ids[j] ? next[j + 1]! + 1 : 0;
      if (cur[j]! > longest) longest = cur[j]!;
    }
    [next, cur] = [cur, next];
  }
  return longest / n;
}

/**
 * Consecutive windows of `size` whitespace tokens (joined by single spaces). The last window keeps
 * the remainder when it has at least size/2 tokens and is merged into the one before otherwise.
 */
export function tokenWindows(text: string, size = 128): string[] {
  if (!(size >= 1)) throw new RangeError(`Window size must be ≥ 1, got ${size}`);
  const t = whitespaceTokens(text);
  const windows: string[][] = [];
  for (let i = 0; i < t.length; i += size) windows.push(t.slice(i, i + size));
  if (windows.length > 1 && windows.at(-1)!.length < size / 2) windows.at(-2)!.push(...windows.pop()!);
  return windows.map((w) => w.join(" "));
}

/** How steady a per-window (or per-turn) score is over a long text. */
export interface Consistency {
  /** Mean over windows with a bootstrap interval over windows. */
  readonly overall: Aggregate;
  readonly min: number;
  readonly max: number;
  /** Population standard deviation over windows. */
  readonly std: number;
  /** Least-squares slope of the score against window index (drift per window; 0 for one window). */
  readonly slope: number;
  readonly perWindow: readonly number[];
}

/** Consistency of per-window (or per-turn) scores, e.g. EPS of each 128-token window of a long response. */
export function consistency(perWindow: readonly number[], options?: BootstrapOptions): Consistency {
  const overall = aggregate(perWindow, options);
  const m = overall.mean;
  const n = perWindow.length;
  const std = Math.sqrt(perWindow.reduce((a, v) => a + (v - m) ** 2, 0) / n);
  const xm = (n - 1) / 2;
  let sxy = 0;
  let sxx = 0;
  perWindow.forEach((v, i) => {
    sxy += (i - xm) * (v - m);
    sxx += (i - xm) ** 2;
  });
  return { overall, min: Math.min(...perWindow), max: Math.max(...perWindow), std, slope: sxx === 0 ? 0 : sxy / sxx, perWindow };
}

/** Score each {@link tokenWindows} window of a long text, e.g. `(w) => judge.classify(w).probabilities.joy` for EPS per window. */
export function windowScores(text: string, score: (window: string) => number, size = 128): number[] {
  return tokenWindows(text, size).map(score);
}
