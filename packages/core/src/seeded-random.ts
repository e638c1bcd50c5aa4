/**
 * A seeded uniform generator in [0, 1) (mulberry32): tiny, fast and identical in every JS engine,
 * so a seed reproduces across Node and browsers, and across the engines that sample in JavaScript.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
