import type { Emotion } from "./emotion.js";
import type { EmotionVector } from "./emotion-vector.js";
import { UnsupportedCapabilityError } from "./errors.js";
import { type ExtractEmotionVectorsOptions, extractEmotionVectors } from "./extract-emotion-vectors.js";
import { type SteeringFromWeightsOptions, resolveSteering, steeringFromWeights } from "./steering.js";
import type { SteeringSpec } from "./steering-spec.js";
import type { ChatMessage, GenerateOptions, Generation, SteeringBackend } from "./steering-backend.js";

/** Emotion intensities, e.g. `{ joy: 1.5, fear: -1 }`; negative suppresses. */
export type EmotionWeights = Readonly<Record<string, number>>;

export interface SteererOptions {
  /** Vectors to use (e.g. loaded from a file). Defaults to extracting them from the backend with `extraction`. */
  readonly vectors?: ReadonlyMap<Emotion, EmotionVector> | Readonly<Record<string, EmotionVector>>;
  /** How to extract vectors when none are given. Defaults to the fixed corpus, mean-diff. */
  readonly extraction?: ExtractEmotionVectorsOptions;
  /** Accept vectors made for the same-shaped model with other weights (e.g. another quantization). Defaults to false. */
  readonly allowFingerprintMismatch?: boolean;
}

export type SteeredGenerateOptions = Omit<GenerateOptions, "steering"> & SteeringFromWeightsOptions;

/**
 * A backend plus emotion vectors: generate with emotions by name. A calibrated vector (one with a
 * profile) makes `{ joy: 1 }` its calibrated intensity, on its calibrated layers.
 *
 * @example
 * const steerer = await Steerer.create(backend);
 * const { text } = await steerer.generate("How do I bake bread?", { joy: 1.5, fear: -1 }, { maxTokens: 64 });
 */
export class Steerer {
  private constructor(
    readonly backend: SteeringBackend,
    readonly vectors: ReadonlyMap<Emotion, EmotionVector>,
    private readonly allowFingerprintMismatch: boolean,
  ) {}

  /**
   * Checks `options.vectors` against the backend's model, or extracts vectors when none are given
   * (hundreds of teacher-forced passes; in Node, `cachedEmotionVectors` from `@emosteer/core/node`
   * extracts once and reuses the files).
   */
  static async create(backend: SteeringBackend, options: SteererOptions = {}): Promise<Steerer> {
    const allowFingerprintMismatch = options.allowFingerprintMismatch ?? false;
    const given = options.vectors;
    const vectors = given
      ? new Map(given instanceof Map ? (given as ReadonlyMap<Emotion, EmotionVector>) : Object.entries(given))
      : await extractEmotionVectors(backend, options.extraction);
    for (const vector of vectors.values()) vector.assertCompatible(backend.model, { allowFingerprintMismatch });
    return new Steerer(backend, vectors, allowFingerprintMismatch);
  }

  /** The steering spec for `weights`; throws `UnknownEmotionError` for an emotion without a vector. */
  steering(weights: EmotionWeights, options: SteeringFromWeightsOptions = {}): SteeringSpec {
    const built = steeringFromWeights(this.vectors, weights, options);
    // The acceptance goes into the spec: every engine resolves it again, and must accept it too.
    const spec: SteeringSpec = this.allowFingerprintMismatch ? { ...built, allowFingerprintMismatch: true } : built;
    // Resolve once here so that a bad spec fails before the backend starts work.
    resolveSteering(spec, this.backend.model);
    return spec;
  }

  /** Generates an answer to `prompt` (a user message, or a whole conversation) steered by `weights`. Unsteered when `weights` is empty. */
  async generate(
    prompt: string | readonly ChatMessage[],
    weights: EmotionWeights = {},
    options: SteeredGenerateOptions = {},
  ): Promise<Generation> {
    const { layers, normalization, layerScale, injection, apply, useProfiles, ...generateOptions } = options;
    const steering =
      Object.keys(weights).length === 0
        ? null
        : this.steering(weights, {
            ...(layers ? { layers } : {}),
            ...(normalization ? { normalization } : {}),
            ...(layerScale ? { layerScale } : {}),
            ...(injection ? { injection } : {}),
            ...(apply ? { apply } : {}),
            ...(useProfiles !== undefined ? { useProfiles } : {}),
          });
    if (steering && !this.backend.capabilities.steering)
      throw new UnsupportedCapabilityError(this.backend.name, "steer generation", "use a backend with steering support.");
    const messages: readonly ChatMessage[] = typeof prompt === "string" ? [{ role: "user", content: prompt }] : prompt;
    return this.backend.generate(messages, { ...generateOptions, steering });
  }
}
