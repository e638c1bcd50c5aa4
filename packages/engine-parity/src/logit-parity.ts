import { top2Margin } from "./greedy-parity.js";

/** How closely two engines' next-token logits agree over the same positions. */
export interface LogitParity {
  readonly positions: number;
  /** Fraction of positions where both engines' most likely next token is the same. */
  readonly top1Agreement: number;
  /** Largest |Δlogit| over every position and vocabulary entry. */
  readonly maxAbsDiff: number;
  /** Mean |Δlogit| over every position and vocabulary entry. */
  readonly meanAbsDiff: number;
  /** Largest |Δ log-probability| of the token that actually follows, over positions. */
  readonly maxNextTokenLogProbDiff: number;
  /**
   * Largest top-2 margin of `a` (the reference) at a position where the two argmaxes differ; 0
   * when they agree everywhere. Where every |Δlogit| < τ, this is below 2τ.
   */
  readonly maxMarginWhereTop1Differs: number;
}

/**
 * Compares `positions × vocab` logits of two engines. `nextTokens` (optional) are the tokens that
 * follow each position, for the log-probability difference.
 */
export function compareLogits(a: Float32Array, b: Float32Array, vocab: number, nextTokens?: readonly number[]): LogitParity {
  if (a.length !== b.length || a.length % vocab !== 0)
    throw new RangeError(`logit arrays differ in size (${a.length} vs ${b.length}) or are not a multiple of vocab ${vocab}`);
  const positions = a.length / vocab;
  let agree = 0;
  let maxAbsDiff = 0;
  let sumAbsDiff = 0;
  let maxNextTokenLogProbDiff = 0;
  let maxMarginWhereTop1Differs = 0;
  for (let p = 0; p < positions; p++) {
    const ra = a.subarray(p * vocab, (p + 1) * vocab);
    const rb = b.subarray(p * vocab, (p + 1) * vocab);
    let ia = 0;
    let ib = 0;
    for (let i = 0; i < vocab; i++) {
      const d = Math.abs(ra[i]! - rb[i]!);
      sumAbsDiff += d;
      if (d > maxAbsDiff) maxAbsDiff = d;
      if (ra[i]! > ra[ia]!) ia = i;
      if (rb[i]! > rb[ib]!) ib = i;
    }
    if (ia === ib) agree++;
    else maxMarginWhereTop1Differs = Math.max(maxMarginWhereTop1Differs, top2Margin(ra));
    const next = nextTokens?.[p];
    if (next !== undefined)
      maxNextTokenLogProbDiff = Math.max(maxNextTokenLogProbDiff, Math.abs(logSoftmaxAt(ra, next) - logSoftmaxAt(rb, next)));
  }
  return {
    positions,
    top1Agreement: agree / positions,
    maxAbsDiff,
    meanAbsDiff: sumAbsDiff / a.length,
    maxNextTokenLogProbDiff,
    maxMarginWhereTop1Differs,
  };
}

function logSoftmaxAt(row: Float32Array, token: number): number {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return row[token]! - max - Math.log(sum);
}
