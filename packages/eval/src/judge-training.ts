import { AbortedError } from "@emosteer/core";
import type { SparseVector } from "./judge-features.js";
import { seededRandom, shuffleInPlace } from "./random.js";

/** Optimizer settings; part of the judge's cache key. */
export interface TrainingSettings {
  /** "sgd": decaying global step with exact L2 (weight-scale trick); "adagrad": per-weight steps, L2 applied to touched weights. */
  readonly optimizer: "sgd" | "adagrad";
  readonly epochs: number;
  /** SGD: initial step η0, decaying as η0 / (1 + η0·λ·t). Adagrad: base step η. */
  readonly learningRate: number;
  /** L2 penalty λ on the weights (not the biases). */
  readonly l2: number;
  /** Class weight = (n_max / n_c)^power; 0 = unweighted, 1 = fully balanced. */
  readonly classWeightPower: number;
  readonly seed: number;
}

/** A training example: features and a target distribution over the classes (sums to 1). */
export interface TrainingExample {
  readonly x: SparseVector;
  readonly target: Float32Array;
  /** Example weight (defaults to 1): v2 weighs the in-domain rows above the Reddit/survey rows. */
  readonly weight?: number;
}

export interface LinearModel {
  /** `features × classes`, row-major by feature. */
  readonly weights: Float32Array;
  readonly bias: Float32Array;
}

/** Softmax in place over `logits` (numerically safe). */
export function softmaxInPlace(logits: Float32Array | Float64Array): void {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i]! - max);
    logits[i] = e;
    sum += e;
  }
  for (let i = 0; i < logits.length; i++) logits[i]! /= sum;
}

/** `out[c] = bias[c] + Σ_i x_i · W[i, c]`. */
export function linearLogits(model: LinearModel, x: SparseVector, classes: number, out: Float64Array): void {
  for (let c = 0; c < classes; c++) out[c] = model.bias[c]!;
  const { indices, values } = x;
  const w = model.weights;
  for (let i = 0; i < indices.length; i++) {
    const base = indices[i]! * classes;
    const v = values[i]!;
    for (let c = 0; c < classes; c++) out[c]! += v * w[base + c]!;
  }
}

/**
 * Multinomial logistic regression by plain SGD with soft targets, class weights and L2 applied by
 * the weight-scale trick (Bottou), so each step costs O(nnz × classes). Deterministic for a seed.
 */
export function trainSoftmaxRegression(
  examples: readonly TrainingExample[],
  featureCount: number,
  classes: number,
  settings: TrainingSettings,
  options: { onProgress?: (epoch: number, loss: number) => void; signal?: AbortSignal } = {},
): LinearModel {
  const v = new Float32Array(featureCount * classes);
  const bias = new Float32Array(classes);
  const counts = new Float64Array(classes);
  for (const e of examples) for (let c = 0; c < classes; c++) counts[c]! += (e.weight ?? 1) * e.target[c]!;
  const maxCount = Math.max(...counts);
  const classWeight = Array.from(counts, (n) => (n > 0 ? (maxCount / n) ** settings.classWeightPower : 0));
  const random = seededRandom(settings.seed);
  const order = examples.map((_, i) => i);
  const p = new Float64Array(classes);
  const g = new Float64Array(classes);
  const { learningRate: eta0, l2 } = settings;
  const adagrad = settings.optimizer === "adagrad";
  const sumSquares = adagrad ? new Float32Array(featureCount * classes) : null;
  const biasSquares = new Float64Array(classes);
  let scale = 1;
  let t = 0;
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    if (options.signal?.aborted) throw new AbortedError("Judge training");
    shuffleInPlace(order, random);
    let loss = 0;
    for (const idx of order) {
      const { x, target, weight } = examples[idx]!;
      const eta = eta0 / (1 + eta0 * l2 * t++);
      for (let c = 0; c < classes; c++) p[c] = bias[c]!;
      for (let i = 0; i < x.indices.length; i++) {
        const base = x.indices[i]! * classes;
        const xv = x.values[i]! * scale;
        for (let c = 0; c < classes; c++) p[c]! += xv * v[base + c]!;
      }
      softmaxInPlace(p);
      let w = 0;
      for (let c = 0; c < classes; c++) w += target[c]! * classWeight[c]!;
      if (weight !== undefined) w *= weight;
      for (let c = 0; c < classes; c++) {
        g[c] = w * (p[c]! - target[c]!);
        if (target[c]! > 0) loss -= w * target[c]! * Math.log(Math.max(p[c]!, 1e-12));
      }
      if (sumSquares) {
        for (let i = 0; i < x.indices.length; i++) {
          const base = x.indices[i]! * classes;
          const xv = x.values[i]!;
          for (let c = 0; c < classes; c++) {
            const k = base + c;
            const grad = xv * g[c]! + l2 * v[k]!;
            sumSquares[k]! += grad * grad;
            if (sumSquares[k]! > 0) v[k]! -= (eta0 * grad) / Math.sqrt(sumSquares[k]!);
          }
        }
        for (let c = 0; c < classes; c++) {
          biasSquares[c]! += g[c]! * g[c]!;
          if (biasSquares[c]! > 0) bias[c]! -= (eta0 * g[c]!) / Math.sqrt(biasSquares[c]!);
        }
        continue;
      }
      scale *= 1 - eta * l2;
      if (scale < 1e-6) {
        for (let i = 0; i < v.length; i++) v[i]! *= scale;
        scale = 1;
      }
      const step = eta / scale;
      for (let i = 0; i < x.indices.length; i++) {
        const base = x.indices[i]! * classes;
        const xv = x.values[i]! * step;
        for (let c = 0; c < classes; c++) v[base + c]! -= xv * g[c]!;
      }
      for (let c = 0; c < classes; c++) bias[c]! -= eta * g[c]!;
    }
    options.onProgress?.(epoch + 1, loss / examples.length);
  }
  for (let i = 0; i < v.length; i++) v[i]! *= scale;
  return { weights: v, bias };
}
