/** Base class of every error emosteer throws on purpose. Each subclass carries the offending values. */
export class EmosteerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A vector or steering tensor was made for a model of another width. */
export class HiddenSizeMismatchError extends EmosteerError {
  constructor(
    readonly expected: number,
    readonly actual: number,
    what = "EV",
  ) {
    super(`${what} has ${actual} dims, model expects ${expected}: extracted for another model?`);
  }
}

/** A vector was made for a model with another number of layers. */
export class LayerCountMismatchError extends EmosteerError {
  constructor(
    readonly expected: number,
    readonly actual: number,
    what = "EV",
  ) {
    super(`${what} has ${actual} layers, model has ${expected}: extracted for another model?`);
  }
}

/** A vector was made for other weights (same shape, different fingerprint). */
export class FingerprintMismatchError extends EmosteerError {
  constructor(
    readonly expected: string,
    readonly actual: string,
    readonly vectorModelName: string,
  ) {
    super(
      `EV was extracted for model ${vectorModelName} (fingerprint ${actual}) but the loaded model has fingerprint ${expected}: ` +
        `re-extract it for this model, or pass { allowFingerprintMismatch: true } if the weights are a requantization of the same model.`,
    );
  }
}

/** A file could not be parsed; `path` and `offset` say where. */
export class InvalidFileError extends EmosteerError {
  constructor(
    readonly path: string,
    readonly reason: string,
    readonly offset?: number,
  ) {
    super(`${path}: ${reason}${offset === undefined ? "" : ` (at byte ${offset})`}`);
  }
}

/**
 * A control-vector file without emosteer metadata (written by repeng's `export_gguf` or
 * llama-cvector-generator) was read without what importing it takes: the model it is for
 * (`expectedModel`) or the emotion it encodes (`emotion`). `missing` names which, so that a
 * front end can name its own option for it.
 */
export class ForeignVectorFileError extends InvalidFileError {
  constructor(
    path: string,
    readonly missing: "expectedModel" | "emotion",
  ) {
    super(
      path,
      missing === "expectedModel"
        ? "this control-vector file has no emosteer metadata (made by repeng or llama-cvector-generator?): pass the model it was made for (expectedModel) to import it"
        : "this control-vector file has no emosteer metadata: pass the emotion it encodes (emotion) to import it",
    );
  }
}

/** A value that must be finite was NaN or ±Infinity. */
export class NonFiniteValueError extends EmosteerError {
  constructor(
    readonly where: string,
    readonly index: number,
    readonly value: number,
  ) {
    super(`${where} holds a non-finite value (${value}) at index ${index}: the vector is corrupt; re-extract it.`);
  }
}

/** A backend was asked for something its capabilities do not include. */
export class UnsupportedCapabilityError extends EmosteerError {
  constructor(
    readonly backend: string,
    readonly capability: string,
    hint = "",
  ) {
    super(`Backend ${backend} cannot ${capability}${hint ? `: ${hint}` : "."}`);
  }
}

/** A resource was used after `dispose()`. */
export class DisposedError extends EmosteerError {
  constructor(readonly what: string) {
    super(`${what} was used after dispose(); create a new one.`);
  }
}

/** Work was cancelled through an AbortSignal. */
export class AbortedError extends EmosteerError {
  constructor(readonly what: string) {
    super(`${what} was aborted.`);
  }
}

/** Too few contrast pairs for an extraction method. */
export class InsufficientSamplesError extends EmosteerError {
  constructor(
    readonly method: string,
    readonly needed: number,
    readonly actual: number,
  ) {
    super(`Extraction method "${method}" needs at least ${needed} contrast pairs, got ${actual}: use more queries (raise maxQueries).`);
  }
}

/** A steering layer is outside the blocks that can be steered. */
export class LayerOutOfRangeError extends EmosteerError {
  constructor(
    readonly layer: number,
    readonly from: number,
    readonly to: number,
  ) {
    super(`Layer ${layer} cannot be steered: choose layers in ${from}..${to} (block 0 is never steered).`);
  }
}

/** A steering spec has an invalid value (α, fraction, layer scale); `field` names it. */
export class InvalidSteeringError extends EmosteerError {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`Invalid steering ${field}: ${reason}`);
  }
}

/** `"residual-fraction"` normalisation was asked of a vector that has no residual norms. */
export class MissingResidualNormsError extends EmosteerError {
  constructor(readonly emotion: string) {
    super(
      `EV "${emotion}" has no residual norms, so "residual-fraction" normalisation cannot scale it: ` +
        `re-extract it with emosteer (foreign vector files lack them), or use normalization "unit" or "none".`,
    );
  }
}

/** Weights name an emotion for which no vector was extracted or loaded. */
export class UnknownEmotionError extends EmosteerError {
  constructor(
    readonly emotion: string,
    readonly available: readonly string[],
  ) {
    super(
      `No emotion vector for "${emotion}"; available: ${available.length ? available.join(", ") : "(none)"}. ` +
        `Extract it first (user-defined emotions need an emotion file).`,
    );
  }
}

/** A user-defined emotion (JSON) is malformed; `field` is the JSON path of the offending value. */
export class InvalidEmotionDefinitionError extends EmosteerError {
  constructor(
    readonly source: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${source}: ${field}: ${reason}`);
  }
}

/** A file or tensor uses a format emosteer does not implement; `hint` says what to use instead. */
export class UnsupportedFormatError extends EmosteerError {
  constructor(
    readonly what: string,
    readonly hint: string,
  ) {
    super(`${what} is not supported: ${hint}.`);
  }
}

/** A model has no way to take steering (e.g. an ONNX graph without a `steering` input); `hint` says how to get one. */
export class NotSteerableModelError extends EmosteerError {
  constructor(
    readonly model: string,
    readonly hint: string,
  ) {
    super(`${model} cannot be steered: ${hint}`);
  }
}

/** An argument of a backend call is out of its range (`maxTokens: 0`, a negative temperature, …); `argument` names it. */
export class InvalidArgumentError extends EmosteerError {
  constructor(
    readonly argument: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`${argument} must be ${expected}, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}.`);
  }
}

/** Tokens that do not fit the backend's context (prompt, prompt + continuation, or a captured sequence). */
export class ContextOverflowError extends EmosteerError {
  constructor(
    readonly what: string,
    readonly tokens: number,
    readonly contextSize: number,
  ) {
    super(
      `${what} of ${tokens} tokens does not fit the context of ${contextSize} tokens: shorten it, or open the backend with a larger contextSize.`,
    );
  }
}

/** A vector's calibrated profile does not fit the model (its layer window reaches past the last steerable block) or is malformed. */
export class InvalidProfileError extends EmosteerError {
  constructor(
    readonly what: string,
    readonly reason: string,
  ) {
    super(`${what}: invalid calibration profile: ${reason}`);
  }
}
