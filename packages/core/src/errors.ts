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
