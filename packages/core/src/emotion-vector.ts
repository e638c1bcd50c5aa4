import type { Emotion } from "./emotion.js";
import { FingerprintMismatchError, HiddenSizeMismatchError, LayerCountMismatchError, NonFiniteValueError } from "./errors.js";
import type { ModelIdentity, ModelInfo } from "./model-info.js";
import { type SteeringProfile, validateProfile } from "./steering-profile.js";

/** Names of the extraction methods in `extraction.ts`. `"mean-diff"` is the paper's. */
export const EXTRACTION_METHODS = ["mean-diff", "last-token", "pca", "fisher"] as const;

export type ExtractionMethod = (typeof EXTRACTION_METHODS)[number];

export function isExtractionMethod(name: string): name is ExtractionMethod {
  return (EXTRACTION_METHODS as readonly string[]).includes(name);
}

/** How an {@link EmotionVector} was made. Stored in vector files. */
export interface VectorProvenance {
  readonly method: ExtractionMethod | "algebra" | "imported";
  /** Method settings (e.g. `{ shrinkage: 0.1 }`), JSON-serialisable. */
  readonly settings: Readonly<Record<string, unknown>>;
  /** Number of contrast pairs the vector was computed from. */
  readonly samples: number;
  /** `"fixed"` (the repo's contrast corpus), `"self"` (responses the target model wrote) or a user label. */
  readonly corpus: string;
  /** sha256 (hex, 16 digits) of the prompt set / corpus used, so caches can be keyed on it. */
  readonly corpusHash: string;
  /** Engine that captured the activations, e.g. `"llama.cpp"`. */
  readonly backend: string;
  /** ISO date. */
  readonly createdAt: string;
}

export interface EmotionVectorInit {
  readonly emotion: Emotion;
  readonly model: ModelIdentity;
  /**
   * One direction per layer, `model.layerCount` entries of `model.hiddenSize` floats; entry k is
   * added to the output of block k. Entry 0 must be all zeros (block 0 is never steered).
   */
  readonly directions: readonly Float32Array[];
  /**
   * Typical L2 norm of the residual stream at each layer (mean over the neutral samples), used by
   * the `"residual-fraction"` normalisation. Optional: vectors from foreign files lack it.
   */
  readonly residualNorms?: Float32Array;
  /** Per-layer Fisher discriminability of the contrast (see `fisherRatio`), when known. */
  readonly layerScores?: Float32Array;
  readonly provenance: VectorProvenance;
  /** The calibrated operating point (see {@link SteeringProfile}), when the vector was calibrated. */
  readonly profile?: SteeringProfile;
}

/**
 * An emotion direction for one model: immutable, with algebra (`scale`, `add`, `sub`, `negate`).
 * Combining vectors of different models throws.
 *
 * @example
 * const joyMinusFear = joy.add(fear.scale(-0.5));
 */
export class EmotionVector {
  readonly emotion: Emotion;
  readonly model: ModelIdentity;
  readonly directions: readonly Float32Array[];
  readonly residualNorms: Float32Array | undefined;
  readonly layerScores: Float32Array | undefined;
  readonly provenance: VectorProvenance;
  /** The calibrated operating point, when known. Algebra (`scale`, `add`, …) drops it: it was measured for this vector only. */
  readonly profile: SteeringProfile | undefined;

  constructor(init: EmotionVectorInit) {
    const { model } = init;
    if (init.directions.length !== model.layerCount) {
      throw new LayerCountMismatchError(model.layerCount, init.directions.length, `EV "${init.emotion}"`);
    }
    init.directions.forEach((d, layer) => {
      if (d.length !== model.hiddenSize)
        throw new HiddenSizeMismatchError(model.hiddenSize, d.length, `EV "${init.emotion}" layer ${layer}`);
      assertFinite(d, `EV "${init.emotion}" layer ${layer}`);
    });
    if (init.directions[0]?.some((x) => x !== 0)) {
      throw new RangeError(`EV "${init.emotion}": layer 0 must be all zeros (block 0 is never steered; llama.cpp cannot steer it).`);
    }
    for (const [what, arr] of [
      ["residualNorms", init.residualNorms],
      ["layerScores", init.layerScores],
    ] as const) {
      if (arr && arr.length !== model.layerCount)
        throw new LayerCountMismatchError(model.layerCount, arr.length, `EV "${init.emotion}" ${what}`);
      if (arr) assertFinite(arr, `EV "${init.emotion}" ${what}`);
    }
    if (init.profile) validateProfile(init.profile, model.layerCount, `EV "${init.emotion}" (${model.name})`);
    this.emotion = init.emotion;
    this.model = Object.freeze({ ...model });
    // Copies, so that no caller can mutate a vector after the fact.
    this.directions = Object.freeze(init.directions.map((d) => Float32Array.from(d)));
    this.residualNorms = init.residualNorms && Float32Array.from(init.residualNorms);
    this.layerScores = init.layerScores && Float32Array.from(init.layerScores);
    this.provenance = Object.freeze({ ...init.provenance, settings: Object.freeze({ ...init.provenance.settings }) });
    this.profile = init.profile && freezeProfile(init.profile);
  }

  get layerCount(): number {
    return this.model.layerCount;
  }

  get hiddenSize(): number {
    return this.model.hiddenSize;
  }

  /** L2 norm of each layer's direction. */
  norms(): Float32Array {
    return Float32Array.from(this.directions, (d) => Math.hypot(...d));
  }

  /** The same vector with `profile` as its operating point (or none, for `undefined`). */
  withProfile(profile: SteeringProfile | undefined): EmotionVector {
    return new EmotionVector({
      emotion: this.emotion,
      model: this.model,
      directions: this.directions,
      ...(this.residualNorms ? { residualNorms: this.residualNorms } : {}),
      ...(this.layerScores ? { layerScores: this.layerScores } : {}),
      provenance: this.provenance,
      ...(profile ? { profile } : {}),
    });
  }

  /** This vector times `factor` (every layer). */
  scale(factor: number): EmotionVector {
    if (!Number.isFinite(factor)) throw new RangeError(`scale factor must be finite, got ${factor}`);
    return this.derive(
      this.emotion,
      this.directions.map((d) => d.map((x) => x * factor)),
    );
  }

  negate(): EmotionVector {
    return this.scale(-1);
  }

  /** Element-wise sum; both vectors must belong to the same model. The result is named `a+b`. */
  add(other: EmotionVector): EmotionVector {
    this.assertSameModel(other);
    return this.derive(
      `${this.emotion}+${other.emotion}`,
      this.directions.map((d, l) => d.map((x, i) => x + other.directions[l]![i]!)),
    );
  }

  sub(other: EmotionVector): EmotionVector {
    this.assertSameModel(other);
    return this.derive(
      `${this.emotion}-${other.emotion}`,
      this.directions.map((d, l) => d.map((x, i) => x - other.directions[l]![i]!)),
    );
  }

  /** Same model, same emotion, bit-identical directions. */
  equals(other: EmotionVector): boolean {
    return (
      this.emotion === other.emotion &&
      sameModel(this.model, other.model) &&
      this.directions.every((d, l) => {
        const o = other.directions[l]!;
        return d.length === o.length && d.every((x, i) => Object.is(x, o[i]));
      })
    );
  }

  /** Throws unless this vector can be applied to `model`. */
  assertCompatible(model: ModelInfo | ModelIdentity, options: { allowFingerprintMismatch?: boolean } = {}): void {
    if (this.hiddenSize !== model.hiddenSize) throw new HiddenSizeMismatchError(model.hiddenSize, this.hiddenSize, `EV "${this.emotion}"`);
    if (this.layerCount !== model.layerCount) throw new LayerCountMismatchError(model.layerCount, this.layerCount, `EV "${this.emotion}"`);
    if (!options.allowFingerprintMismatch && this.model.fingerprint !== model.fingerprint) {
      throw new FingerprintMismatchError(model.fingerprint, this.model.fingerprint, this.model.name);
    }
  }

  private assertSameModel(other: EmotionVector): void {
    if (!sameModel(this.model, other.model)) {
      throw new FingerprintMismatchError(this.model.fingerprint, other.model.fingerprint, other.model.name);
    }
  }

  private derive(emotion: Emotion, directions: Float32Array[]): EmotionVector {
    return new EmotionVector({
      emotion,
      model: this.model,
      directions,
      ...(this.residualNorms ? { residualNorms: this.residualNorms } : {}),
      provenance: { ...this.provenance, method: "algebra" },
    });
  }
}

function freezeProfile(p: SteeringProfile): SteeringProfile {
  return Object.freeze({
    ...p,
    layers: Object.freeze({ from: p.layers.from, to: p.layers.to }),
    objective: Object.freeze({ ...p.objective }),
    searchedOn: Object.freeze({ ...p.searchedOn }),
  });
}

function sameModel(a: ModelIdentity, b: ModelIdentity): boolean {
  return a.fingerprint === b.fingerprint && a.layerCount === b.layerCount && a.hiddenSize === b.hiddenSize;
}

export function assertFinite(values: ArrayLike<number>, where: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new NonFiniteValueError(where, i, v);
  }
}
