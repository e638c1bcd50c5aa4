// Deterministic synthetic data for the EV math tests.

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
