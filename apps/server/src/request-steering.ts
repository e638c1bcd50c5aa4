import {
  EmosteerError,
  EmotionVector,
  modelIdentity,
  resolveSteering,
  resolveLayers,
  type LayerRange,
  type ModelInfo,
  type SteeringPhase as CoreSteeringPhase,
  type SteeringProfile,
  type SteeringSpec,
  type SteeringTerm,
} from "@emosteer/core";
import { invalidRequest } from "./api-error.js";

/** The steering fields of a request body, as the JSON schema admits them (types checked, values not yet). */
export interface SteeringRequest {
  /** `{ "joy": 1.5, "fear": -1 }`: α per vector loaded at start. */
  readonly emotions?: Readonly<Record<string, number>>;
  /** The explicit form (schema/steering.schema.json). */
  readonly steering?: ExplicitSteering;
}

export interface ExplicitSteering {
  readonly terms: readonly { readonly vector: string | InlineVector; readonly alpha: number }[];
  readonly layers?: LayerRange | readonly number[];
  readonly apply?: SteeringPhase;
  readonly injection?: "net-shift" | "per-layer";
}

/** A vector sent in the request: `layerCount × hiddenSize` little-endian float32, base64; row 0 zero. */
export interface InlineVector {
  readonly data: string;
  /** A label for the response's `steering` (never looked up). Defaults to "inline". */
  readonly name?: string;
}

/** Which tokens are steered: the prompt's, the generated ones, or both (core's {@link CoreSteeringPhase}). */
export type SteeringPhase = CoreSteeringPhase;
export const SUPPORTED_PHASES: readonly SteeringPhase[] = ["prompt", "generation", "both"];

/** One term of the steering a response reports. */
export interface AppliedTerm {
  readonly vector: string;
  /** The α really added (for a calibrated vector in the `emotions` form: the weight × the profile's α). */
  readonly alpha: number;
  /** The weight the request gave, when a calibration profile turned it into {@link alpha}. */
  readonly weight?: number;
  /** This term's own layers and injection, when its vector's profile set them. */
  readonly layers?: { readonly from: number; readonly to: number };
  readonly injection?: "net-shift" | "per-layer";
}

/** The steering a response reports: what was really added, after validation. */
export interface AppliedSteering {
  readonly terms: readonly AppliedTerm[];
  /** The layers of every term without its own (see {@link AppliedTerm.layers}). */
  readonly layers: { readonly from: number; readonly to: number } | readonly number[];
  readonly apply: SteeringPhase;
  readonly injection: "net-shift" | "per-layer";
}

export interface SteeringLimits {
  /** Largest |α| accepted. α = 4 already saturates (ARCHITECTURE.md). */
  readonly maxAlpha: number;
  /** Most terms in one request. */
  readonly maxTerms: number;
}

interface RequestTerm {
  readonly vector: EmotionVector;
  readonly label: string;
  readonly alpha: number;
  readonly weight?: number;
  readonly layers?: LayerRange;
  readonly injection?: "net-shift" | "per-layer";
}

/** A vector name as loaded from `--vectors` (file stem = emotion): letters, digits, `_`, `-`. */
export const VECTOR_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/** Largest |value| of an inline vector: real EVs are a few units per dimension. */
const MAX_INLINE_VALUE = 1e4;

/**
 * Translates a request's steering fields into the {@link SteeringSpec} the engine gets, and the
 * {@link AppliedSteering} the response reports. Pure: no file is ever opened (a vector is either
 * one of `vectors`, loaded at start, by name, or sent inline); every invalid value is an
 * `ApiError` 400 that says what is allowed. Returns `{ spec: null, applied: null }` when nothing
 * steers (no fields, or every α zero).
 */
export function requestSteering(
  request: SteeringRequest,
  vectors: ReadonlyMap<string, EmotionVector>,
  model: ModelInfo,
  limits: SteeringLimits,
): { spec: SteeringSpec | null; applied: AppliedSteering | null } {
  const { emotions, steering } = request;
  if (emotions !== undefined && steering !== undefined) {
    throw invalidRequest(
      "steering",
      `Give "emotions" (α per named vector) or "steering" (the explicit form), not both: put every term in one of them.`,
    );
  }
  const available = [...vectors.keys()];
  const named = (name: string, param: string): EmotionVector => {
    if (!VECTOR_NAME.test(name)) {
      throw invalidRequest(
        param,
        `${JSON.stringify(name.slice(0, 80))} is not a vector name: a request names vectors loaded at start (${available.join(", ") || "none"}), never a file; ` +
          `to use your own vector, put its file in the server's --vectors folder or send it inline as { "data": base64 float32 }.`,
        "invalid_vector_name",
      );
    }
    const vector = vectors.get(name);
    if (!vector)
      throw invalidRequest(
        param,
        `Unknown emotion "${name}": this server has vectors for ${available.join(", ") || "none"}.`,
        "unknown_emotion",
      );
    return vector;
  };
  const alphaOf = (alpha: number, param: string): number => {
    if (typeof alpha !== "number" || !Number.isFinite(alpha) || Math.abs(alpha) > limits.maxAlpha) {
      throw invalidRequest(
        param,
        `α must be a finite number from −${limits.maxAlpha} to ${limits.maxAlpha} (negative suppresses); got ${String(alpha)}.`,
        "invalid_alpha",
      );
    }
    return alpha + 0; // −0 → 0
  };
  // The emotions form means what Steerer means: a calibrated vector's weight 1 is its profile's α, on its layers.
  const profiledTerm = (vector: EmotionVector, label: string, weight: number, param: string): RequestTerm => {
    const profile: SteeringProfile | undefined = vector.profile;
    if (!profile) return { vector, label, alpha: weight };
    const alpha = weight * profile.alpha + 0;
    if (Math.abs(alpha) > limits.maxAlpha) {
      throw invalidRequest(
        param,
        `"${label}" is calibrated (weight 1 = α ${profile.alpha}), so weight ${weight} means α ${alpha}, beyond this server's limit of ${limits.maxAlpha}: ` +
          `use a weight from −${limits.maxAlpha / profile.alpha} to ${limits.maxAlpha / profile.alpha}, or the explicit "steering" form for raw α.`,
        "invalid_alpha",
      );
    }
    return { vector, label, alpha, weight, layers: profile.layers, injection: profile.injection };
  };

  let terms: RequestTerm[];
  let layers: LayerRange | readonly number[] | undefined;
  let apply: SteeringPhase = "both";
  let injection: "net-shift" | "per-layer" = "net-shift";
  if (emotions !== undefined) {
    terms = Object.entries(emotions).map(([name, weight]) =>
      profiledTerm(named(name, `emotions.${name}`), name, alphaOf(weight, `emotions.${name}`), `emotions.${name}`),
    );
  } else if (steering !== undefined) {
    terms = steering.terms.map((term, k) => {
      const param = `steering.terms[${k}]`;
      const alpha = alphaOf(term.alpha, `${param}.alpha`);
      if (typeof term.vector === "string") return { vector: named(term.vector, `${param}.vector`), label: term.vector, alpha };
      return { vector: inlineVector(term.vector, model, `${param}.vector`), label: term.vector.name ?? "inline", alpha };
    });
    layers = steering.layers;
    apply = steering.apply ?? "both";
    injection = steering.injection ?? "net-shift";
    if (!SUPPORTED_PHASES.includes(apply)) {
      throw invalidRequest(
        "steering.apply",
        `apply must be one of ${SUPPORTED_PHASES.join(", ")} (the tokens steered: the prompt's, the generated ones, or both, the default); got ${JSON.stringify(apply)}.`,
        "unsupported_phase",
      );
    }
  } else {
    return { spec: null, applied: null };
  }
  if (terms.length > limits.maxTerms)
    throw invalidRequest(
      emotions ? "emotions" : "steering.terms",
      `At most ${limits.maxTerms} steering terms per request; got ${terms.length}.`,
    );

  const active = terms.filter((t) => t.alpha !== 0);
  if (active.length === 0) return { spec: null, applied: null };
  const spec: SteeringSpec = {
    terms: active.map(
      ({ vector, alpha, layers: own, injection: ownInjection }): SteeringTerm => ({
        vector,
        alpha,
        ...(own ? { layers: own } : {}),
        ...(ownInjection ? { injection: ownInjection } : {}),
      }),
    ),
    ...(layers !== undefined ? { layers } : {}),
    // A profiled term keeps its own injection; otherwise the request's (default net-shift).
    ...(active.some((t) => t.injection) ? {} : { injection }),
    apply,
  };
  try {
    // Resolved once here (the engine resolves it again) so that a bad layer is a 400, not an engine failure.
    resolveSteering(spec, model);
  } catch (error) {
    if (error instanceof EmosteerError) throw invalidRequest(layers !== undefined ? "steering.layers" : "steering", error.message);
    throw error;
  }
  const steered = resolveLayers(layers, model.layerCount);
  const contiguous = steered.every((l, i) => i === 0 || l === steered[i - 1]! + 1);
  return {
    spec,
    applied: {
      terms: active.map(({ label, alpha, weight, layers: own, injection: ownInjection }) => ({
        vector: label,
        alpha,
        ...(weight !== undefined ? { weight } : {}),
        ...(own ? { layers: { from: own.from, to: own.to } } : {}),
        ...(ownInjection ? { injection: ownInjection } : {}),
      })),
      layers: contiguous && steered.length > 0 ? { from: steered[0]!, to: steered.at(-1)! } : steered,
      apply,
      injection,
    },
  };
}

/** An inline vector → an EmotionVector for `model`, or a 400 saying what the data must be. */
function inlineVector(inline: InlineVector, model: ModelInfo, param: string): EmotionVector {
  const { layerCount, hiddenSize } = model;
  const expected = layerCount * hiddenSize;
  const shape = `${layerCount} × ${hiddenSize} little-endian float32 (${expected * 4} bytes, row k added at block k's output, row 0 zero), base64-encoded`;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(inline.data))
    throw invalidRequest(`${param}.data`, `Inline vector data must be base64: ${shape}.`, "invalid_vector");
  const bytes = Buffer.from(inline.data, "base64");
  if (bytes.length !== expected * 4) {
    throw invalidRequest(`${param}.data`, `Inline vector data has ${bytes.length} bytes; this model needs ${shape}.`, "invalid_vector");
  }
  const floats = new Float32Array(expected);
  for (let i = 0; i < expected; i++) floats[i] = bytes.readFloatLE(i * 4);
  for (let i = 0; i < expected; i++) {
    const x = floats[i]!;
    if (!Number.isFinite(x) || Math.abs(x) > MAX_INLINE_VALUE) {
      throw invalidRequest(
        `${param}.data`,
        `Inline vector value ${i} is ${x}; every value must be finite with |x| ≤ ${MAX_INLINE_VALUE}.`,
        "invalid_vector",
      );
    }
  }
  const directions = Array.from({ length: layerCount }, (_, l) => floats.subarray(l * hiddenSize, (l + 1) * hiddenSize));
  try {
    return new EmotionVector({
      emotion: inline.name ?? "inline",
      model: modelIdentity(model),
      directions,
      provenance: {
        method: "imported",
        settings: {},
        samples: 0,
        corpus: "request",
        corpusHash: "",
        backend: "request",
        createdAt: new Date(0).toISOString(),
      },
    });
  } catch (error) {
    if (error instanceof Error) throw invalidRequest(`${param}.data`, `${error.message} (${shape}).`, "invalid_vector");
    throw error;
  }
}
