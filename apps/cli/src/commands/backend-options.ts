import { CORE_EMOTIONS, type Emotion, type ExtractionMethod } from "@emosteer/core";

const METHODS: readonly ExtractionMethod[] = ["mean-diff", "last-token", "pca", "fisher"];

export function parseMethod(value: string): ExtractionMethod {
  if ((METHODS as readonly string[]).includes(value)) return value as ExtractionMethod;
  throw new RangeError(`--method must be one of ${METHODS.join(", ")}; got "${value}"`);
}

export function parseCorpus(value: string): "fixed" | "self" {
  if (value === "fixed" || value === "self") return value;
  throw new RangeError(`--corpus must be "fixed" (the repo's contrast corpus) or "self" (the model writes its own responses); got "${value}"`);
}

export function parseEmotions(value: string | undefined): Emotion[] {
  if (!value) return [...CORE_EMOTIONS];
  return value.split(",").map((e) => e.trim()).filter(Boolean);
}

/** `joy=1.5,fear=-1` → `{ joy: 1.5, fear: -1 }`. */
export function parseWeights(value: string | undefined): Record<string, number> {
  const weights: Record<string, number> = {};
  if (!value) return weights;
  for (const part of value.split(",")) {
    const match = /^\s*([a-z][a-z0-9_-]*)\s*=\s*(-?\d+(?:\.\d+)?)\s*$/.exec(part);
    if (!match) throw new RangeError(`--steer takes emotion=alpha pairs separated by commas (e.g. joy=1.5,fear=-1); cannot read "${part}"`);
    weights[match[1]!] = Number(match[2]);
  }
  return weights;
}
