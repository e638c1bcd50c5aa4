import { LogitsProcessor, type Tensor } from "@huggingface/transformers";

/** Sampling settings after defaults are applied. */
export interface ResolvedSampling {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly seed: number;
}

/** mulberry32: tiny, fast and identical in every JS engine, so a seed reproduces across Node and browsers. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Picks the next token by temperature / top-k / top-p sampling with its own seeded generator and
 * leaves only that token finite, so transformers.js's greedy sampler selects it. transformers.js's
 * own multinomial sampler draws from a process-wide generator and ignores top-p, which would make
 * a seed neither reproducible under concurrency nor faithful to `topP`.
 */
export class SeededTokenSampler extends LogitsProcessor {
  private readonly random: () => number;

  constructor(private readonly sampling: ResolvedSampling) {
    super();
    this.random = seededRandom(sampling.seed);
  }

  override _call(_inputIds: bigint[][], logits: Tensor): Tensor {
    const vocab = logits.dims.at(-1)!;
    const data = logits.data as Float32Array;
    for (let row = 0; row * vocab < data.length; row++) {
      const scores = data.subarray(row * vocab, (row + 1) * vocab);
      const chosen = this.pick(scores);
      scores.fill(-Infinity);
      scores[chosen] = 0;
    }
    return logits;
  }

  private pick(scores: Float32Array): number {
    const { temperature, topK, topP } = this.sampling;
    const order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]!);
    const candidates = order.slice(0, topK > 0 ? Math.min(topK, order.length) : order.length);
    const top = scores[candidates[0]!]!;
    const weights = candidates.map((token) => Math.exp((scores[token]! - top) / temperature));
    const sum = weights.reduce((a, b) => a + b, 0);
    let kept = 0;
    let mass = 0;
    while (kept < candidates.length && (kept === 0 || mass < topP)) mass += weights[kept++]! / sum;
    let draw = this.random() * mass;
    for (let i = 0; i < kept; i++) {
      draw -= weights[i]! / sum;
      if (draw <= 0) return candidates[i]!;
    }
    return candidates[kept - 1]!;
  }
}
