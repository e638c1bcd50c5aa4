import type { SamplingOptions } from "@emosteer/core";

/** Index of the largest value (first on ties), as greedy decoding picks it. */
export function argmax(logits: Float32Array): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i]! > bestValue) {
      bestValue = logits[i]!;
      best = i;
    }
  }
  return best;
}

/**
 * Picks tokens from logits: greedy at temperature 0, otherwise top-k → top-p → temperature →
 * a draw from a seeded generator (same seed, same logits → same tokens).
 */
export class Sampler {
  private state: number;
  private readonly temperature: number;
  private readonly topK: number;
  private readonly topP: number;

  constructor(options: SamplingOptions) {
    this.temperature = options.temperature ?? 0;
    this.topK = options.topK ?? 40;
    this.topP = options.topP ?? 0.95;
    if (!(this.temperature >= 0)) throw new RangeError(`temperature must be ≥ 0, got ${this.temperature}`);
    if (!(this.topK >= 1)) throw new RangeError(`topK must be ≥ 1, got ${this.topK}`);
    if (!(this.topP > 0 && this.topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${this.topP}`);
    this.state = (options.seed ?? 0) >>> 0;
  }

  sample(logits: Float32Array): number {
    if (this.temperature === 0) return argmax(logits);
    const k = Math.min(this.topK, logits.length);
    const candidates = topKIndices(logits, k);
    const max = logits[candidates[0]!]!;
    // Softmax over the top k (at temperature 1) to apply top-p, as llama.cpp's chain does.
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
    let r = this.next() * sum;
    for (let i = 0; i < kept.length; i++) {
      r -= weights[i]!;
      if (r <= 0) return kept[i]!;
    }
    return kept[kept.length - 1]!;
  }

  /** mulberry32: a small, fast, well-mixed 32-bit generator; uniform in [0, 1). */
  private next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** Indices of the k largest values, largest first (ties: lower index first). */
function topKIndices(values: Float32Array, k: number): number[] {
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
