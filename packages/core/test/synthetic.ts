// Deterministic synthetic data for the EV math tests.

export { seededRandom as random } from "../src/seeded-random.js";
import { seededRandom as random } from "../src/seeded-random.js";

/** Standard normal samples (Box-Muller). */
export function gaussian(seed: number): () => number {
  const uniform = random(seed);
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

export function randomVector(next: () => number, d: number, scale = 1): Float32Array {
  return Float32Array.from({ length: d }, () => next() * scale);
}

export function unit(v: ArrayLike<number>): Float32Array {
  const norm = Math.hypot(...Array.from(v));
  return Float32Array.from(v as ArrayLike<number>, (x) => x / norm);
}
