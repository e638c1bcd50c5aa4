import type { Emotion } from "./emotion.js";
import { EmotionVector, type ExtractionMethod, type VectorProvenance } from "./emotion-vector.js";
import { InsufficientSamplesError } from "./errors.js";
import {
  combineRows,
  dot64,
  gramMatrix,
  outerSum,
  projectRows,
  scaleToUnit,
  solveSymmetricPositiveDefinite,
  topEigenvector,
} from "./linear-algebra.js";
import type { ModelIdentity } from "./model-info.js";
import type { Pooling } from "./pooling.js";
import { l2Norm, meanVector } from "./vector-math.js";

/**
 * Pooled activations of one layer for the two classes. Paired: `emotional[i]` and `neutral[i]`
 * are responses to the same query.
 */
export interface ContrastSamples {
  readonly emotional: readonly Float32Array[];
  readonly neutral: readonly Float32Array[];
}

export interface ExtractionSettings {
  /**
   * `"fisher"` only: weight γ of the shrinkage of the within-class covariance toward a scaled
   * identity, `(1-γ)·S_w + γ·(tr S_w / d)·I`. In [0, 1]; 0 is the plain (often singular) Fisher
   * discriminant, 1 reduces to mean-diff. Defaults to 0.1.
   */
  readonly shrinkage?: number;
}

const DEFAULT_SHRINKAGE = 0.1;

/** The pooling each method is defined with. */
export function poolingFor(method: ExtractionMethod): Pooling {
  return method === "last-token" ? "last" : "mean";
}

/**
 * The emotion direction of one layer by `method`:
 * - `"mean-diff"`, `"last-token"`: mean over pairs of emotional − neutral (they differ in pooling).
 * - `"pca"`: first principal component of the pair differences (uncentred), sign-aligned with the
 *   mean difference and scaled to the mean difference's projection on it.
 * - `"fisher"`: `(S_w + shrinkage)⁻¹ (μe − μn)`, scaled like `"pca"`.
 */
export function extractDirection(method: ExtractionMethod, samples: ContrastSamples, settings: ExtractionSettings = {}): Float32Array {
  switch (method) {
    case "mean-diff":
    case "last-token":
      return meanDifference(samples);
    case "pca":
      return pcaDirection(samples);
    case "fisher":
      return fisherDirection(samples, settings.shrinkage ?? DEFAULT_SHRINKAGE);
    default:
      throw new RangeError(`Unknown extraction method ${JSON.stringify(method)}: use "mean-diff", "last-token", "pca" or "fisher".`);
  }
}

/** Mean over pairs of emotional − neutral (= μe − μn). */
export function meanDifference(samples: ContrastSamples): Float32Array {
  checkPairs("mean-diff", samples, 1);
  const e = meanVector(samples.emotional);
  const n = meanVector(samples.neutral);
  return Float32Array.from(e, (x, i) => x - n[i]!);
}

/**
 * First principal component of the per-pair differences. Uncentred on purpose: the shared shift
 * is the signal, and centring would remove it and keep only how the shift varies between queries.
 */
export function pcaDirection(samples: ContrastSamples): Float32Array {
  checkPairs("pca", samples, 1);
  const differences = samples.emotional.map((e, i) => Float64Array.from(e, (x, k) => x - samples.neutral[i]![k]!));
  const mean = meanVector(differences);
  const d = mean.length;
  if (differences.length > d) {
    // More pairs than dims: power iteration on DᵀD (d × d), starting from the mean difference.
    return scaleLikeMeanDifference(topEigenvector(outerSum(differences, d), d, nonZero(mean)), mean);
  }
  // Fewer pairs than dims: power iteration on the Gram matrix D·Dᵀ (pairs × pairs); its top
  // eigenvector a gives the principal axis Dᵀa. Starting from the projections on the mean
  // difference (= D·mean) converges fast.
  const a = topEigenvector(gramMatrix(differences), differences.length, nonZero(projectRows(differences, mean)));
  return scaleLikeMeanDifference(combineRows(differences, a, d), mean);
}

/** A power-iteration start: `v`, or all ones when `v` is zero. */
function nonZero(v: Float64Array): Float64Array {
  return v.some((x) => x !== 0) ? v : new Float64Array(v.length).fill(1);
}

/** Fisher linear discriminant with shrinkage (see {@link ExtractionSettings.shrinkage}). */
export function fisherDirection(samples: ContrastSamples, shrinkage = DEFAULT_SHRINKAGE): Float32Array {
  if (!(shrinkage >= 0 && shrinkage <= 1)) throw new RangeError(`fisher shrinkage must be in [0, 1], got ${shrinkage}.`);
  checkPairs("fisher", samples, 2);
  const muE = meanVector(samples.emotional);
  const muN = meanVector(samples.neutral);
  const delta = muE.map((x, i) => x - muN[i]!);
  const d = delta.length;
  const centred = [
    ...samples.emotional.map((v) => Float64Array.from(v, (x, i) => x - muE[i]!)),
    ...samples.neutral.map((v) => Float64Array.from(v, (x, i) => x - muN[i]!)),
  ];
  const m = centred.length;
  // A = c·XᵀX + λ·I with S_w = XᵀX/m, c = (1-γ)/m, λ = γ·tr(S_w)/d.
  const c = (1 - shrinkage) / m;
  const lambda = (shrinkage * centred.reduce((sum, r) => sum + dot64(r, r), 0)) / (m * d);
  if (c === 0 || centred.every((r) => r.every((x) => x === 0))) return scaleLikeMeanDifference(delta, delta);
  let w: Float64Array | null = null;
  if (lambda > 0 && m < d) {
    // Woodbury: A⁻¹δ = (δ − c·Xᵀ(λI + c·XXᵀ)⁻¹Xδ)/λ, an m × m solve instead of d × d.
    const k = gramMatrix(centred).map((x) => c * x);
    for (let i = 0; i < m; i++) k[i * m + i]! += lambda;
    const z = solveSymmetricPositiveDefinite(k, m, projectRows(centred, delta));
    if (z) {
      const correction = combineRows(centred, z, d);
      w = delta.map((x, i) => (x - c * correction[i]!) / lambda);
    }
  } else {
    const a = outerSum(centred, d).map((x) => c * x);
    for (let i = 0; i < d; i++) a[i * d + i]! += lambda;
    w = solveSymmetricPositiveDefinite(a, d, delta);
  }
  if (!w) {
    throw new RangeError(
      `fisher: the within-class covariance is singular (${m} samples in ${d} dims): use a shrinkage above 0 (e.g. 0.1) or more queries.`,
    );
  }
  return scaleLikeMeanDifference(w, delta);
}

/**
 * Separation of the two classes along `direction`: `(m_e − m_n)² / (s_e² + s_n²)` of the samples'
 * projections (population variances). Higher means the layer tells the classes apart better.
 */
export function fisherRatio(samples: ContrastSamples, direction: ArrayLike<number>): number {
  const norm = l2Norm(direction);
  if (norm === 0 || samples.emotional.length === 0 || samples.neutral.length === 0) return 0;
  const project = (vs: readonly Float32Array[]) => vs.map((v) => dot64(v, direction) / norm);
  const [meanE, varE] = meanAndVariance(project(samples.emotional));
  const [meanN, varN] = meanAndVariance(project(samples.neutral));
  const separation = (meanE - meanN) ** 2;
  // Floor the denominator so perfectly separated, noise-free classes score high but finite
  // (layer scores are stored in vector files, which hold finite floats only).
  return separation / Math.max(varE + varN, Number.EPSILON * (separation + 1));
}

/** Mean L2 norm of a set of vectors (e.g. the neutral samples of one layer). */
export function meanNorm(vectors: readonly ArrayLike<number>[]): number {
  if (vectors.length === 0) return 0;
  return vectors.reduce((sum, v) => sum + l2Norm(v), 0) / vectors.length;
}

export interface EmotionVectorSamples {
  readonly emotion: Emotion;
  readonly model: ModelIdentity;
  readonly method: ExtractionMethod;
  readonly settings?: ExtractionSettings;
  /** One entry per layer (index = layer, `model.layerCount` entries). Entry 0 is ignored: block 0 is never steered. */
  readonly layers: readonly ContrastSamples[];
  /** Typical residual norm per layer. Defaults to the mean L2 norm of each layer's neutral samples. */
  readonly residualNorms?: Float32Array;
  readonly corpus: string;
  readonly corpusHash: string;
  /** Engine that captured the samples. */
  readonly backend: string;
  /** ISO date. Defaults to now. */
  readonly createdAt?: string;
}

/**
 * Builds an {@link EmotionVector} from per-layer contrast samples: the direction of every layer by
 * `method`, its Fisher ratio as the layer score, and the residual norms. Layer 0 stays zero.
 */
export function emotionVectorFromSamples(input: EmotionVectorSamples): EmotionVector {
  const { model, method } = input;
  if (input.layers.length !== model.layerCount) {
    throw new RangeError(
      `Got contrast samples for ${input.layers.length} layers, model ${model.name} has ${model.layerCount}: pass one entry per layer.`,
    );
  }
  const settings: ExtractionSettings = method === "fisher" ? { shrinkage: input.settings?.shrinkage ?? DEFAULT_SHRINKAGE } : {};
  const directions: Float32Array[] = [new Float32Array(model.hiddenSize)];
  const layerScores = new Float32Array(model.layerCount);
  for (let layer = 1; layer < model.layerCount; layer++) {
    const samples = input.layers[layer]!;
    const direction = extractDirection(method, samples, settings);
    directions.push(direction);
    layerScores[layer] = fisherRatio(samples, direction);
  }
  const residualNorms = input.residualNorms ?? Float32Array.from(input.layers, (s, layer) => (layer === 0 ? 0 : meanNorm(s.neutral)));
  const provenance: VectorProvenance = {
    method,
    settings: { pooling: poolingFor(method), ...settings },
    samples: input.layers[1]?.neutral.length ?? 0,
    corpus: input.corpus,
    corpusHash: input.corpusHash,
    backend: input.backend,
    createdAt: input.createdAt ?? new Date().toISOString(),
  };
  return new EmotionVector({ emotion: input.emotion, model, directions, residualNorms, layerScores, provenance });
}

function checkPairs(method: string, samples: ContrastSamples, minimum: number): void {
  const { emotional, neutral } = samples;
  if (emotional.length !== neutral.length) {
    throw new RangeError(
      `${method}: ${emotional.length} emotional but ${neutral.length} neutral samples; they must be paired (one of each per query).`,
    );
  }
  if (emotional.length < minimum) throw new InsufficientSamplesError(method, minimum, emotional.length);
}

function scaleLikeMeanDifference(direction: Float64Array, meanDiff: Float64Array): Float32Array {
  const unit = scaleToUnit(direction);
  // Scaled by the mean difference's projection, signed so that it projects positively (as repeng
  // aligns signs): the result points the emotional way and has a mean-diff-like magnitude.
  const along = dot64(meanDiff, unit);
  return Float32Array.from(unit, (x) => x * along);
}

function meanAndVariance(values: readonly number[]): [number, number] {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return [mean, values.reduce((sum, x) => sum + (x - mean) ** 2, 0) / values.length];
}
