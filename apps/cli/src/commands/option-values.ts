import { BACKEND_NAMES, isBackendName, type BackendName } from "@emosteer/backends";
import {
  type ContrastCorpusName,
  EXTRACTION_METHODS,
  isContrastCorpusName,
  isExtractionMethod,
  type ExtractionMethod,
  type Injection,
} from "@emosteer/core";
import { UsageError } from "../usage-error.js";

// Every parser here checks one option's value and names the option and the value it refuses.

/** A finite decimal number: `1`, `-1.5`, `.5`, `2e-1`. Stricter than Number(), which reads "" and " " as 0 and accepts "0x10". */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

export function parseBackend(value: string): BackendName {
  if (isBackendName(value)) return value;
  throw new UsageError(`--backend must be one of ${BACKEND_NAMES.join(", ")}; got "${value}"`);
}

export function parseMethod(value: string): ExtractionMethod {
  if (isExtractionMethod(value)) return value;
  throw new UsageError(`--method must be one of ${EXTRACTION_METHODS.join(", ")}; got "${value}"`);
}

export function parseCorpus(value: string): ContrastCorpusName {
  if (isContrastCorpusName(value)) return value;
  throw new UsageError(
    `--corpus must be "fixed" (the repo's contrast corpus v1), "fixed-v2" (corpus v2: the emotion in every sentence) or "self" (the model writes its own responses); got "${value}"`,
  );
}

export function parseInjection(value: string): Injection {
  if (value === "net-shift" || value === "per-layer") return value;
  throw new UsageError(
    `--injection must be "net-shift" (α = 1 is the measured shift) or "per-layer" (α·EV added at every layer, as llama.cpp does); got "${value}"`,
  );
}

/** `joy=1.5,fear=-1` → `{ joy: 1.5, fear: -1 }`. Which emotions exist is checked against the vectors later. */
export function parseWeights(value: string | undefined): Record<string, number> {
  const weights: Record<string, number> = {};
  if (value === undefined) return weights;
  for (const part of value.split(",")) {
    const [name = "", alpha, ...extra] = part.split("=").map((s) => s.trim());
    if (alpha === undefined || extra.length > 0 || !/^[a-z][a-z0-9_-]*$/.test(name)) {
      throw new UsageError(`--steer takes emotion=α pairs separated by commas (e.g. joy=1.5,fear=-1); cannot read "${part}"`);
    }
    if (!DECIMAL.test(alpha)) throw new UsageError(`--steer: α for "${name}" must be a number (e.g. ${name}=1.5); got "${alpha}"`);
    if (name in weights) throw new UsageError(`--steer names "${name}" twice`);
    weights[name] = Number(alpha);
  }
  return weights;
}

/** An integer option in [min, max]. */
export function parseInteger(option: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
    throw new UsageError(`--${option} must be ${range}; got "${value}"`);
  }
  return n;
}

/** A finite number option ≥ min. */
export function parseNumber(option: string, value: string, min: number): number {
  const n = Number(value.trim());
  if (!DECIMAL.test(value.trim()) || !Number.isFinite(n) || n < min)
    throw new UsageError(`--${option} must be a number ≥ ${min}; got "${value}"`);
  return n;
}
