/**
 * Greedy decoding on two engines agrees token for token only while each next-token argmax is
 * decided by more than the engines' logit difference: if every logit of the two engines differs
 * by less than τ, their argmaxes can only differ where the top-2 margin is below 2τ. Summation
 * order (SIMD width, threads, library) legitimately moves logits by a little, so the invariant
 * two correct engines share is "identical up to the first near-tie", not "identical".
 */

/** The largest entry of a logit row minus the second largest (≥ 0). */
export function top2Margin(row: Float32Array): number {
  let first = -Infinity;
  let second = -Infinity;
  for (const v of row) {
    if (v > first) {
      second = first;
      first = v;
    } else if (v > second) second = v;
  }
  return first - second;
}

/** The last `vocab` entries of a `positions × vocab` logit array: the next-token row after the last position. */
export function lastRow(logits: Float32Array, vocab: number): Float32Array {
  if (logits.length < vocab || logits.length % vocab !== 0)
    throw new RangeError(`logits of length ${logits.length} are not positions × vocab ${vocab}`);
  return logits.subarray(logits.length - vocab);
}

/** Number of leading tokens two sequences share. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/**
 * The chat continuations both greedy comparisons generate: the F32 parity test
 * (test/onnx-vs-llamacpp.test.ts) and the quantized-GGUF benchmark (scripts/quantized-parity-bench.ts),
 * so the benchmark's figures are on the very prompts the test holds to the invariant.
 */
export const GREEDY_PROMPTS: readonly string[] = [
  "Tell me about your weekend.",
  "What is the capital of France?",
  "How do I boil an egg?",
  "Give me three tips for learning a language.",
];
/** Tokens generated per greedy continuation. */
export const GREEDY_TOKENS = 64;
