// Small dense linear algebra for the extraction methods (double precision, row-major). Internal.

/** Solves `A x = b` for a symmetric positive-definite `n × n` matrix by Cholesky; null when A is not positive definite. */
export function solveSymmetricPositiveDefinite(a: Float64Array, n: number, b: Float64Array): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        // Relative pivot threshold: a pivot this small means A is singular to working precision.
        if (!(sum > 1e-12 * Math.abs(a[i * n + i]!))) return null;
        l[i * n + i] = Math.sqrt(sum);
      } else {
        l[i * n + j] = sum / l[j * n + j]!;
      }
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i]!;
    for (let k = 0; k < i; k++) sum -= l[i * n + k]! * y[k]!;
    y[i] = sum / l[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i]!;
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i]! * x[k]!;
    x[i] = sum / l[i * n + i]!;
  }
  return x;
}

/** `rows × rowsᵀ`: the Gram matrix (m × m) of m row vectors. */
export function gramMatrix(rows: readonly Float64Array[]): Float64Array {
  const m = rows.length;
  const g = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      const value = dot64(rows[i]!, rows[j]!);
      g[i * m + j] = value;
      g[j * m + i] = value;
    }
  }
  return g;
}

/** `rowsᵀ × rows`: the d × d second-moment matrix of m row vectors of width d. */
export function outerSum(rows: readonly Float64Array[], d: number): Float64Array {
  const s = new Float64Array(d * d);
  for (const r of rows) {
    for (let i = 0; i < d; i++) {
      const ri = r[i]!;
      if (ri === 0) continue;
      for (let j = 0; j < d; j++) s[i * d + j]! += ri * r[j]!;
    }
  }
  return s;
}

/** `Σ_i coefficients[i] · rows[i]` (i.e. rowsᵀ × coefficients). */
export function combineRows(rows: readonly Float64Array[], coefficients: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d);
  rows.forEach((r, i) => {
    const c = coefficients[i]!;
    for (let k = 0; k < d; k++) out[k]! += c * r[k]!;
  });
  return out;
}

/** `rows × v`: the dot product of every row with v. */
export function projectRows(rows: readonly Float64Array[], v: Float64Array): Float64Array {
  return Float64Array.from(rows, (r) => dot64(r, v));
}

/**
 * Top eigenvector of a symmetric positive semi-definite `n × n` matrix by power iteration from
 * `start`. Converges to the direction of largest eigenvalue unless `start` is orthogonal to it.
 */
export function topEigenvector(a: Float64Array, n: number, start: Float64Array, maxIterations = 10_000): Float64Array {
  let v = scaleToUnit(start);
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const next = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let j = 0; j < n; j++) sum += a[i * n + j]! * v[j]!;
      next[i] = sum;
    }
    const unit = scaleToUnit(next);
    const change = 1 - Math.abs(dot64(unit, v));
    v = unit;
    if (change < 1e-14) break;
  }
  return v;
}

export function dot64(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

export function scaleToUnit(v: Float64Array): Float64Array {
  const norm = Math.sqrt(dot64(v, v));
  return norm === 0 ? v : v.map((x) => x / norm);
}
