import type { Emotion } from "./emotion.js";
import type { EmotionVector } from "./emotion-vector.js";
import { InvalidSteeringError, LayerOutOfRangeError, MissingResidualNormsError, UnknownEmotionError } from "./errors.js";
import type { ModelIdentity, ModelInfo } from "./model-info.js";
import type { Injection, LayerRange, Normalization, SteeringPhase, SteeringSpec, SteeringTensor, SteeringTerm } from "./steering-spec.js";
import { l2Norm } from "./vector-math.js";

export interface ResolveSteeringOptions {
  /**
   * Accept vectors whose fingerprint differs from the model's (e.g. a requantization), as the
   * spec's own `allowFingerprintMismatch` does; either one set is enough. Defaults to false.
   */
  readonly allowFingerprintMismatch?: boolean;
}

/**
 * Resolves a {@link SteeringSpec} for `model` into the tensor engines add to the residual stream:
 * the wanted shift W[l] = layerScale[l] · Σ_k α_k · normalise(EV_k[l]) on the chosen layers; row l
 * is W[l] itself (`"per-layer"`) or W[l] − W[previous steered layer] (`"net-shift"`, the default),
 * zero elsewhere.
 * Throws a named error when a vector belongs to another model, an α is not finite, a layer is
 * outside 1..layerCount-1, or `"residual-fraction"` meets a vector without residual norms.
 */
export function resolveSteering(
  spec: SteeringSpec,
  model: ModelInfo | ModelIdentity,
  options: ResolveSteeringOptions = {},
): SteeringTensor {
  const { layerCount, hiddenSize } = model;
  // Validated even when every term has its own layers, so a bad spec-level value never passes silently.
  const specLayers = spec.layers === undefined ? undefined : resolveLayers(spec.layers, layerCount);
  const normalization = spec.normalization ?? "none";
  checkNormalization(normalization);
  const layerScale = spec.layerScale;
  if (layerScale) {
    if (layerScale.length !== layerCount) {
      throw new InvalidSteeringError(
        "layerScale",
        `has ${layerScale.length} entries, the model has ${layerCount} layers: give one factor per layer (index = layer).`,
      );
    }
    for (let l = 0; l < layerCount; l++) {
      if (!Number.isFinite(layerScale[l]))
        throw new InvalidSteeringError("layerScale", `entry ${l} is ${layerScale[l]}; every factor must be finite.`);
    }
  }
  if (spec.injection !== undefined) checkInjection(spec.injection);
  const allowFingerprintMismatch = options.allowFingerprintMismatch === true || spec.allowFingerprintMismatch === true;
  const terms = spec.terms.map((term, k) => {
    const { vector, alpha } = term;
    if (!Number.isFinite(alpha))
      throw new InvalidSteeringError("alpha", `term ${k} ("${vector.emotion}") has α = ${alpha}; α must be a finite number.`);
    vector.assertCompatible(model, { allowFingerprintMismatch });
    if (typeof normalization === "object" && !vector.residualNorms) throw new MissingResidualNormsError(vector.emotion);
    const injection = spec.injection ?? term.injection ?? "net-shift";
    checkInjection(injection);
    return { vector, alpha, layers: specLayers ?? resolveLayers(term.layers, layerCount), injection };
  });

  // Σ over terms of each term's rows: resolution is linear in the terms, so with shared layers and
  // injection this equals resolving the summed shift, and with different ones each term keeps its own.
  const sum = new Float64Array(layerCount * hiddenSize);
  const row = new Float64Array(hiddenSize);
  // The total shift wanted at the term's previous steered layer, which "net-shift" subtracts
  // because the residual stream carries it forward.
  const carried = new Float64Array(hiddenSize);
  for (const { vector, alpha, layers, injection } of terms) {
    carried.fill(0);
    for (const layer of layers) {
      const direction = vector.directions[layer]!;
      const factor = alpha * normalizationFactor(vector, layer, normalization) * (layerScale ? layerScale[layer]! : 1);
      for (let i = 0; i < hiddenSize; i++) row[i] = factor * direction[i]!;
      if (injection === "net-shift") {
        for (let i = 0; i < hiddenSize; i++) {
          const wanted = row[i]!;
          row[i] = wanted - carried[i]!;
          carried[i] = wanted;
        }
      }
      const base = layer * hiddenSize;
      for (let i = 0; i < hiddenSize; i++) sum[base + i]! += row[i]!;
    }
  }
  // `+ 0` turns the −0 of a zero factor into +0, so a zero row is bit-identical to an unsteered one.
  const data = Float32Array.from(sum, (x) => x + 0);
  return { layerCount, hiddenSize, data, isZero: data.every((x) => x === 0) };
}

export interface SteeringFromWeightsOptions {
  /** Layers to steer. Defaults to every steerable layer, 1..layerCount-1. */
  readonly layers?: LayerRange | readonly number[];
  /** Defaults to `"none"`. */
  readonly normalization?: Normalization;
  /** Per-layer factor (index = layer). Defaults to 1 everywhere. */
  readonly layerScale?: ArrayLike<number>;
  /** Defaults to `"net-shift"`. */
  readonly injection?: Injection;
  /** Which tokens of a generation are steered. Defaults to `"both"`. */
  readonly apply?: SteeringPhase;
  /**
   * Use the vectors' calibration profiles (see {@link SteeringProfile}). Defaults to true: a weight
   * of 1 is the profile's α, on its layers, with its injection; `layers` / `injection` above still
   * override the profile's (the weight stays in units of the profile's α). False: weights are raw α.
   */
  readonly useProfiles?: boolean;
}

/**
 * Builds a {@link SteeringSpec} from emotion weights, e.g. `{ joy: 1.5, fear: -1 }`, looking each
 * emotion up in `vectors`. A vector with a profile turns its weight w into the term α = w × the
 * profile's α on the profile's layers and injection, so mixed vectors calibrated on different
 * windows each steer their own. Throws {@link UnknownEmotionError} (listing what is available) for
 * an emotion without a vector.
 */
export function steeringFromWeights(
  vectors: ReadonlyMap<Emotion, EmotionVector> | Readonly<Record<string, EmotionVector>>,
  weights: Readonly<Record<string, number>>,
  options: SteeringFromWeightsOptions = {},
): SteeringSpec {
  const lookup = vectors instanceof Map ? (vectors as ReadonlyMap<Emotion, EmotionVector>) : new Map(Object.entries(vectors));
  const { useProfiles = true, ...specOptions } = options;
  const terms = Object.entries(weights).map(([emotion, weight]): SteeringTerm => {
    const vector = lookup.get(emotion);
    if (!vector) throw new UnknownEmotionError(emotion, [...lookup.keys()]);
    const profile = useProfiles ? vector.profile : undefined;
    if (!profile) return { vector, alpha: weight };
    return { vector, alpha: weight * profile.alpha, layers: profile.layers, injection: profile.injection };
  });
  return { terms, ...specOptions };
}

/** The layers a spec steers, validated and sorted. */
export function resolveLayers(layers: LayerRange | readonly number[] | undefined, layerCount: number): number[] {
  const last = layerCount - 1;
  const check = (layer: number) => {
    if (!Number.isInteger(layer) || layer < 1 || layer > last) throw new LayerOutOfRangeError(layer, 1, last);
  };
  if (layers === undefined) return Array.from({ length: Math.max(0, last) }, (_, i) => i + 1);
  if (isLayerRange(layers)) {
    check(layers.from);
    check(layers.to);
    if (layers.from > layers.to)
      throw new InvalidSteeringError("layers", `range ${layers.from}..${layers.to} is empty: "from" must not exceed "to".`);
    return Array.from({ length: layers.to - layers.from + 1 }, (_, i) => layers.from + i);
  }
  layers.forEach(check);
  return [...new Set(layers)].sort((a, b) => a - b);
}

function isLayerRange(layers: LayerRange | readonly number[]): layers is LayerRange {
  return !Array.isArray(layers);
}

function checkNormalization(normalization: Normalization): void {
  if (normalization === "none" || normalization === "unit") return;
  if (typeof normalization === "object" && normalization.mode === "residual-fraction") {
    if (!(Number.isFinite(normalization.fraction) && normalization.fraction > 0)) {
      throw new InvalidSteeringError(
        "normalization",
        `residual fraction must be a finite number above 0, got ${normalization.fraction}; α carries the sign.`,
      );
    }
    return;
  }
  throw new InvalidSteeringError(
    "normalization",
    `${JSON.stringify(normalization)} is not one of "none", "unit" or { mode: "residual-fraction", fraction }.`,
  );
}

function checkInjection(injection: Injection): void {
  if (injection !== "net-shift" && injection !== "per-layer") {
    throw new InvalidSteeringError("injection", `${JSON.stringify(injection)} is not "net-shift" or "per-layer".`);
  }
}

/** What one layer's direction is multiplied by before α. A zero direction stays zero. */
function normalizationFactor(vector: EmotionVector, layer: number, normalization: Normalization): number {
  if (normalization === "none") return 1;
  const norm = l2Norm(vector.directions[layer]!);
  if (norm === 0) return 0;
  if (normalization === "unit") return 1 / norm;
  return (normalization.fraction * vector.residualNorms![layer]!) / norm;
}
