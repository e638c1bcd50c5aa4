import type { EmotionVector } from "./emotion-vector.js";

/**
 * How each layer's direction is rescaled before α is applied.
 * - `"none"`: use the extracted directions as they are (the paper's α·EV). Default.
 * - `"unit"`: every layer's direction has L2 norm 1, so α is an absolute norm.
 * - `{ mode: "residual-fraction", fraction }`: every layer's direction has norm
 *   `fraction × typical residual norm of that layer`, so α = 1 means the same relative push on
 *   every model. Needs vectors that carry `residualNorms`.
 */
export type Normalization = "none" | "unit" | { readonly mode: "residual-fraction"; readonly fraction: number };

/**
 * How the per-layer directions become additions to the residual stream.
 * - `"net-shift"` (default): the total shift at every steered layer l is α·EV[l], the mean shift
 *   the vector measured there. Because what is added at one block is carried on by every later
 *   block, row l holds EV[l] − EV[previous steered layer]. This keeps α = 1 meaning "as emotional
 *   as the contrast responses" on every model.
 * - `"per-layer"`: α·EV[l] is added at every steered layer, as llama.cpp's `--control-vector`
 *   does with the same file; the shifts pile up, so useful α are far smaller (about 0.1–0.3 on
 *   SmolLM2-135M over all layers).
 */
export type Injection = "net-shift" | "per-layer";

/**
 * Which tokens `generate` evaluates steered: the prompt's (`"prompt"`), the generated ones as
 * they are fed back (`"generation"`), or both (`"both"`, the default). The first generated token
 * is predicted by the prompt pass, so it is steered under "prompt" and "both" only. Scoring,
 * capture and raw logits always steer their whole pass.
 */
export type SteeringPhase = "prompt" | "generation" | "both";

/**
 * One emotion at one intensity. Negative α suppresses. A term may carry its own layers and
 * injection (a calibrated vector's profile does); the spec's `layers` / `injection`, when set,
 * override every term's. Because resolution is linear, each term is resolved on its own layers and
 * the rows are summed: mixing vectors calibrated on different windows steers each on its own.
 */
export interface SteeringTerm {
  readonly vector: EmotionVector;
  readonly alpha: number;
  /** This term's layers, unless the spec sets `layers`. Defaults to every steerable layer. */
  readonly layers?: LayerRange | readonly number[];
  /** This term's injection, unless the spec sets `injection`. Defaults to `"net-shift"`. */
  readonly injection?: Injection;
}

/** Inclusive range of block indices to steer. */
export interface LayerRange {
  readonly from: number;
  readonly to: number;
}

/**
 * What to add to the residual stream: Σ α_k · normalise(EV_k), on the chosen layers, optionally
 * scaled per layer. Every term must belong to the same model.
 */
export interface SteeringSpec {
  readonly terms: readonly SteeringTerm[];
  /** Layers to steer, for every term (overriding the terms' own). Defaults to each term's layers, else every steerable layer 1..layerCount-1. */
  readonly layers?: LayerRange | readonly number[];
  /** Defaults to `"none"`. */
  readonly normalization?: Normalization;
  /** Extra per-layer factor (index = layer), applied after normalisation. Defaults to 1 everywhere. */
  readonly layerScale?: ArrayLike<number>;
  /** Injection for every term (overriding the terms' own). Defaults to each term's, else `"net-shift"`. */
  readonly injection?: Injection;
  /** Which tokens of a generation are steered (see {@link SteeringPhase}). Defaults to `"both"`. */
  readonly apply?: SteeringPhase;
  /**
   * Accept terms whose vectors were made for other weights of the same shape (another fingerprint,
   * e.g. a requantization). Defaults to false. It travels with the spec so that every engine's
   * {@link resolveSteering} honours what the caller accepted (`Steerer` sets it from its option).
   */
  readonly allowFingerprintMismatch?: boolean;
}

/**
 * The steering resolved for one model: `layerCount × hiddenSize` floats, row k added to the output
 * of block k. Row 0 is always zero. This is what engines consume (the ONNX graph's `steering`
 * input, llama.cpp's control-vector buffer from row 1 on).
 */
export interface SteeringTensor {
  readonly layerCount: number;
  readonly hiddenSize: number;
  readonly data: Float32Array;
  /** True when every value is zero (engines may skip steering entirely). */
  readonly isZero: boolean;
}
