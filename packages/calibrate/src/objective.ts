import type { Injection, LayerRange } from "@emosteer/core";

/** The fluency and meaning constraints an operating point must meet (issue 12's defaults). */
export interface CalibrationConstraints {
  /** Minimum mean similarity of steered to unsteered answers. Defaults to 0.6. */
  readonly minFidelity: number;
  /** Maximum steered / unsteered perplexity. Defaults to 1.5. */
  readonly maxPerplexityRatio: number;
  /** Minimum steered / unsteered distinct-2. Defaults to 0.9. */
  readonly minDistinct2Ratio: number;
}

export const DEFAULT_CONSTRAINTS: CalibrationConstraints = { minFidelity: 0.6, maxPerplexityRatio: 1.5, minDistinct2Ratio: 0.9 };

/** One steering setting the search can measure. */
export interface CandidatePoint {
  readonly layers: LayerRange;
  readonly injection: Injection;
  /** The α put into the steering spec. */
  readonly alpha: number;
}

/** A candidate measured by generation on the searched queries. */
export interface EvaluatedPoint extends CandidatePoint {
  /** The judge's mean probability of the emotion. */
  readonly eps: number;
  readonly fidelity: number;
  readonly perplexityRatio: number;
  readonly distinct2Ratio: number;
}

/** The constraints `point` breaks (empty when it is feasible). */
export function violations(point: EvaluatedPoint, constraints: CalibrationConstraints): ("fidelity" | "perplexity" | "distinct-2")[] {
  const broken: ("fidelity" | "perplexity" | "distinct-2")[] = [];
  if (!(point.fidelity >= constraints.minFidelity)) broken.push("fidelity");
  if (!(point.perplexityRatio <= constraints.maxPerplexityRatio)) broken.push("perplexity");
  if (!(point.distinct2Ratio >= constraints.minDistinct2Ratio)) broken.push("distinct-2");
  return broken;
}

/**
 * The operating point: the feasible point with the highest EPS (ties: higher fidelity, then lower
 * perplexity ratio, then the smaller α). Undefined when no point meets every constraint: a point
 * that breaks one is never chosen, however emotional.
 */
export function selectOperatingPoint(points: readonly EvaluatedPoint[], constraints: CalibrationConstraints): EvaluatedPoint | undefined {
  let best: EvaluatedPoint | undefined;
  for (const p of points) {
    if (violations(p, constraints).length > 0) continue;
    if (!best || better(p, best)) best = p;
  }
  return best;
}

function better(a: EvaluatedPoint, b: EvaluatedPoint): boolean {
  if (a.eps !== b.eps) return a.eps > b.eps;
  if (a.fidelity !== b.fidelity) return a.fidelity > b.fidelity;
  if (a.perplexityRatio !== b.perplexityRatio) return a.perplexityRatio < b.perplexityRatio;
  return Math.abs(a.alpha) < Math.abs(b.alpha);
}
