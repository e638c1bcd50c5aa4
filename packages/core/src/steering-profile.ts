import { InvalidProfileError } from "./errors.js";
import type { Injection, LayerRange } from "./steering-spec.js";

/**
 * A calibrated operating point of one emotion vector on its model (made by `@emosteer/calibrate`):
 * where and how hard to steer so that α = 1 means "the calibrated intensity". Stored in the vector
 * file as `emosteer.profile.*` keys; `Steerer` and `steeringFromWeights` use it when present.
 */
export interface SteeringProfile {
  /** The contiguous window of blocks to steer (inclusive), within 1..layerCount-1. */
  readonly layers: LayerRange;
  readonly injection: Injection;
  /** The calibrated α: a requested intensity of 1 is this α on {@link layers}. Finite and above 0. */
  readonly alpha: number;
  /** Id of the judge the objective was measured with (its weights hash). */
  readonly judge: string;
  /** The objective's figures at the operating point, on the searched queries. */
  readonly objective: ProfileObjective;
  /** What the search measured on: always a split of the built-in queries that is not for evaluation. */
  readonly searchedOn: { readonly split: string; readonly queries: number };
}

export interface ProfileObjective {
  /** The judge's mean probability of the emotion (EPS). */
  readonly eps: number;
  /** Mean similarity of steered to unsteered answers. */
  readonly fidelity: number;
  /** Steered perplexity / unsteered perplexity (under the unsteered model). */
  readonly perplexityRatio: number;
  /** Steered distinct-2 / unsteered distinct-2. */
  readonly distinct2Ratio: number;
}

/**
 * Throws {@link InvalidProfileError} unless `profile` is well-formed and its layers fit a model of
 * `layerCount` layers (steerable blocks 1..layerCount-1). `what` names the vector in the message.
 */
export function validateProfile(profile: SteeringProfile, layerCount: number, what: string): void {
  const bad = (reason: string) => new InvalidProfileError(what, reason);
  const { from, to } = profile.layers ?? {};
  if (!Number.isInteger(from) || !Number.isInteger(to)) throw bad(`layers must be whole numbers, got ${from}..${to}`);
  if (from! > to!) throw bad(`layers ${from}..${to} are empty: "from" must not exceed "to"`);
  if (from! < 1 || to! > layerCount - 1) {
    throw bad(
      `layers ${from}..${to} do not fit the model, which has ${layerCount} layers (steerable blocks 1..${layerCount - 1}): recalibrate for this model`,
    );
  }
  if (profile.injection !== "net-shift" && profile.injection !== "per-layer")
    throw bad(`injection ${JSON.stringify(profile.injection)} is not "net-shift" or "per-layer"`);
  if (!(Number.isFinite(profile.alpha) && profile.alpha > 0)) throw bad(`alpha must be a finite number above 0, got ${profile.alpha}`);
  if (typeof profile.judge !== "string" || profile.judge === "") throw bad("judge id is missing");
  for (const key of ["eps", "fidelity", "perplexityRatio", "distinct2Ratio"] as const) {
    const v = profile.objective?.[key];
    if (typeof v !== "number" || !Number.isFinite(v)) throw bad(`objective.${key} must be a finite number, got ${v}`);
  }
  const s = profile.searchedOn;
  if (!s || typeof s.split !== "string" || s.split === "" || !Number.isInteger(s.queries) || s.queries < 1) {
    throw bad(`searchedOn must name a query split and a query count ≥ 1, got ${JSON.stringify(s)}`);
  }
}
