/** Scores of a single-label classifier against possibly multi-label gold rows. */
export interface ClassificationScores {
  readonly n: number;
  /** Mean over classes of per-class F1 (see {@link scoreClassification} for the multi-label rule). */
  readonly macroF1: number;
  readonly perClassF1: readonly number[];
  /** Share of rows whose predicted class is one of the gold labels. */
  readonly accuracy: number;
  /** `confusion[gold][predicted]` counts. */
  readonly confusion: readonly (readonly number[])[];
}

/**
 * Per-class F1 with one predicted class per row against a gold label set: for class c,
 * TP = rows predicted c with c in gold, FP = rows predicted c without c in gold,
 * FN = rows with c in gold not predicted c. A two-label row can therefore never be fully right
 * (one of its labels is always a miss): the strict reading of multi-label gold.
 * F1 of a class with TP + FP + FN = 0 is 0 (and such a class still counts in the mean).
 * The confusion matrix puts a row under the gold label it matched, or its first gold label when it matched none.
 */
export function scoreClassification(
  gold: readonly (readonly number[])[],
  predicted: readonly number[],
  classes: number,
): ClassificationScores {
  if (gold.length !== predicted.length) throw new RangeError(`gold has ${gold.length} rows, predictions ${predicted.length}`);
  const tp = new Array<number>(classes).fill(0);
  const fp = new Array<number>(classes).fill(0);
  const fn = new Array<number>(classes).fill(0);
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let correct = 0;
  for (let i = 0; i < gold.length; i++) {
    const g = gold[i]!;
    const p = predicted[i]!;
    const hit = g.includes(p);
    if (hit) {
      tp[p]!++;
      correct++;
    } else fp[p]!++;
    for (const c of g) if (c !== p) fn[c]!++;
    confusion[hit ? p : g[0]!]![p]!++;
  }
  const perClassF1 = tp.map((t, c) => (t === 0 ? 0 : (2 * t) / (2 * t + fp[c]! + fn[c]!)));
  return {
    n: gold.length,
    macroF1: perClassF1.reduce((a, b) => a + b, 0) / classes,
    perClassF1,
    accuracy: gold.length === 0 ? 0 : correct / gold.length,
    confusion,
  };
}
