/** Dot product of two vectors of the same length. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertSameLength(a, b);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** Euclidean (L2) norm. */
export function l2Norm(v: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  return Math.sqrt(sum);
}

/** Cosine of the angle between `a` and `b`; 0 when either is the zero vector. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertSameLength(a, b);
  const denominator = l2Norm(a) * l2Norm(b);
  return denominator === 0 ? 0 : dot(a, b) / denominator;
}

/** Scalar projection of `v` on the direction of `direction` (`v · direction / |direction|`); 0 for a zero direction. */
export function projection(v: ArrayLike<number>, direction: ArrayLike<number>): number {
  const norm = l2Norm(direction);
  return norm === 0 ? 0 : dot(v, direction) / norm;
}

/** `v / |v|`; the zero vector stays zero. */
export function normalize(v: ArrayLike<number>): Float32Array {
  const norm = l2Norm(v);
  return Float32Array.from(v as ArrayLike<number>, (x) => (norm === 0 ? 0 : x / norm));
}

/** Element-wise mean of equally long vectors, accumulated in double precision. */
export function meanVector(vectors: readonly ArrayLike<number>[]): Float64Array {
  const first = vectors[0];
  if (!first) throw new RangeError("meanVector needs at least one vector.");
  const sum = new Float64Array(first.length);
  for (const v of vectors) {
    assertSameLength(first, v);
    for (let i = 0; i < v.length; i++) sum[i]! += v[i]!;
  }
  for (let i = 0; i < sum.length; i++) sum[i]! /= vectors.length;
  return sum;
}

function assertSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length)
    throw new RangeError(`Vectors differ in length (${a.length} vs ${b.length}): they come from models of different widths.`);
}
