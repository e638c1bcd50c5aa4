/**
 * Hashed sparse features for the judge: word uni/bi-grams and character n-grams inside word
 * boundaries, weighted by sublinear TF × IDF and L2-normalised (TF-IDF-ish, no vocabulary to store).
 */

/** Feature settings; part of the judge's cache key. */
export interface FeatureSettings {
  /** log2 of the hashed feature space. */
  readonly hashBits: number;
  /** Word n-gram orders, e.g. [1, 2]. */
  readonly wordNgrams: readonly number[];
  /** Character n-gram range inside ` word ` (inclusive); [0, 0] disables. */
  readonly charNgrams: readonly [number, number];
  /** Relative weight of the character block against the word block (both blocks are L2-normalised first). */
  readonly charWeight: number;
}

export interface SparseVector {
  readonly indices: Int32Array;
  readonly values: Float32Array;
}

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*|[!?]+|[^\s\p{L}\p{N}]/gu;

/** Lower-cased word and punctuation tokens (`!`/`?` runs kept as one token, they carry emotion). */
export function judgeTokens(text: string): string[] {
  return text.normalize("NFKC").toLowerCase().replace(/’/g, "'").match(WORD) ?? [];
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function hashString(seed: number, s: string): number {
  let h = FNV_OFFSET ^ seed;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** Final avalanche (murmur3 fmix32) so low bits are well mixed before masking. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Raw hashed term counts of a text, as two blocks (word, char). Keys are feature indices. */
export function countFeatures(text: string, s: FeatureSettings): { word: Map<number, number>; char: Map<number, number> } {
  const mask = (1 << s.hashBits) - 1;
  const tokens = judgeTokens(text);
  const word = new Map<number, number>();
  const char = new Map<number, number>();
  const add = (m: Map<number, number>, h: number) => {
    const k = mix(h) & mask;
    m.set(k, (m.get(k) ?? 0) + 1);
  };
  const padded = ["<s>", ...tokens, "</s>"];
  for (const n of s.wordNgrams) {
    for (let i = 0; i + n <= padded.length; i++) {
      if (n === 1 && (i === 0 || i === padded.length - 1)) continue;
      let h = FNV_OFFSET ^ (n * 0x9e3779b1);
      for (let j = i; j < i + n; j++) h = Math.imul(h ^ hashString(0x1234567, padded[j]!), FNV_PRIME);
      add(word, h);
    }
  }
  const [lo, hi] = s.charNgrams;
  if (hi > 0) {
    for (const t of tokens) {
      const w = ` ${t} `;
      for (let i = 0; i < w.length; i++) {
        let h = FNV_OFFSET ^ 0x5bd1e995;
        for (let j = i; j < w.length && j - i < hi; j++) {
          h = Math.imul(h ^ w.charCodeAt(j), FNV_PRIME);
          if (j - i + 1 >= lo) add(char, h ^ (j - i + 1));
        }
      }
    }
  }
  return { word, char };
}

/**
 * Weighted sparse vector: each block gets (1 + ln tf) × idf, is L2-normalised, the char block is
 * scaled by `charWeight`, and the whole vector is L2-normalised. Indices come out sorted and unique.
 */
export function featurize(text: string, s: FeatureSettings, idf: Float32Array): SparseVector {
  const { word, char } = countFeatures(text, s);
  const merged = new Map<number, number>();
  const addBlock = (m: Map<number, number>, scale: number) => {
    let norm = 0;
    const weighted: [number, number][] = [];
    for (const [k, tf] of m) {
      const v = (1 + Math.log(tf)) * idf[k]!;
      weighted.push([k, v]);
      norm += v * v;
    }
    if (norm === 0) return;
    const f = scale / Math.sqrt(norm);
    for (const [k, v] of weighted) merged.set(k, (merged.get(k) ?? 0) + v * f);
  };
  addBlock(word, 1);
  addBlock(char, s.charWeight);
  const keys = [...merged.keys()].sort((a, b) => a - b);
  const indices = new Int32Array(keys);
  const values = new Float32Array(keys.length);
  let norm = 0;
  for (let i = 0; i < keys.length; i++) {
    const v = merged.get(keys[i]!)!;
    values[i] = v;
    norm += v * v;
  }
  if (norm > 0) {
    const f = 1 / Math.sqrt(norm);
    for (let i = 0; i < values.length; i++) values[i]! *= f;
  }
  return { indices, values };
}

/** Smoothed IDF, ln((N + 1) / (df + 1)) + 1, over the hashed feature space. */
export function fitIdf(texts: readonly string[], s: FeatureSettings): Float32Array {
  const df = new Uint32Array(1 << s.hashBits);
  for (const text of texts) {
    const { word, char } = countFeatures(text, s);
    for (const k of word.keys()) df[k]!++;
    for (const k of char.keys()) if (!word.has(k)) df[k]!++;
  }
  const idf = new Float32Array(df.length);
  const n = texts.length;
  for (let i = 0; i < df.length; i++) idf[i] = Math.log((n + 1) / (df[i]! + 1)) + 1;
  return idf;
}
