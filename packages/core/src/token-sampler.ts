import { resolveSampling } from "./engine/generate-options.js";
import { seededRandom } from "./seeded-random.js";
import type { SamplingOptions } from "./steering-backend.js";

/** Index of the largest value (first on ties), as greedy decoding picks it. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i]! > bestValue) {
      bestValue = values[i]!;
      best = i;
    }
  }
  return best;
}

/**
 * Picks tokens from logits for the engines that sample in JavaScript (ONNX, transformers.js), so
 * the same {@link SamplingOptions} mean the same thing on both: greedy at temperature 0, otherwise
 * top-k → top-p → temperature → a draw from a seeded generator, in llama.cpp's default order
 * (top-p is taken on the untempered distribution). Same seed, same logits → same tokens.
 */
export class TokenSampler {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  private readonly random: () => number;

  constructor(options: SamplingOptions = {}) {
    // The one check of sampling options every engine applies (InvalidArgumentError on a bad value).
    const { temperature, topK, topP, seed } = resolveSampling(options);
    this.temperature = temperature;
    this.topK = topK;
    this.topP = topP;
    this.random = seededRandom(seed);
  }

  get greedy(): boolean {
    return this.temperature === 0;
  }

  /** The next token for one row of logits. */
  sample(logits: ArrayLike<number>): number {
    if (this.greedy) return argmax(logits);
    const candidates = topKIndices(logits, Math.min(this.topK, logits.length));
    const max = logits[candidates[0]!]!;
    let weights = candidates.map((i) => Math.exp(logits[i]! - max));
    let sum = weights.reduce((a, b) => a + b, 0);
    let keep = candidates.length;
    let cumulative = 0;
    for (let i = 0; i < candidates.length; i++) {
      cumulative += weights[i]! / sum;
      if (cumulative >= this.topP) {
        keep = i + 1;
        break;
      }
    }
    const kept = candidates.slice(0, keep);
    weights = kept.map((i) => Math.exp((logits[i]! - max) / this.temperature));
    sum = weights.reduce((a, b) => a + b, 0);
    let r = this.random() * sum;
    for (let i = 0; i < kept.length; i++) {
      r -= weights[i]!;
      if (r <= 0) return kept[i]!;
    }
    return kept[kept.length - 1]!;
  }
}

/** Indices of the k largest values, largest first (ties: lower index first). */
function topKIndices(values: ArrayLike<number>, k: number): number[] {
  const heap: number[] = [];
  const less = (a: number, b: number) => values[a]! < values[b]! || (values[a] === values[b] && a > b);
  for (let i = 0; i < values.length; i++) {
    if (heap.length < k) {
      heap.push(i);
      if (heap.length === k) heap.sort((a, b) => (less(a, b) ? -1 : 1));
    } else if (less(heap[0]!, i)) {
      // Replace the smallest and restore order (k is small: insertion keeps this cheap).
      heap[0] = i;
      for (let j = 0; j + 1 < heap.length && less(heap[j + 1]!, heap[j]!); j++) [heap[j], heap[j + 1]] = [heap[j + 1]!, heap[j]!];
    }
  }
  heap.sort((a, b) => (less(a, b) ? 1 : -1));
  return heap;
}
