/** Block size of the 4-bit variant (along K, the input dimension). */
export const Q4_BLOCK_SIZE = 32;

/** A weight packed for com.microsoft.MatMulNBits (bits = 4, asymmetric, uint8 zero points). */
export interface PackedQ4 {
  /** [N, kBlocks, 16]: two codes a byte, low nibble first. */
  readonly codes: Uint8Array;
  /** [N, kBlocks]. */
  readonly scales: Float32Array;
  /** [N, ceil(kBlocks / 2)]: two zero points a byte, low nibble first (rounded). */
  readonly zeroPoints: Uint8Array;
  /** [N, kBlocks]: the exact (float) zero points, −min/scale. */
  readonly floatZeroPoints: Float32Array;
  /** [N, kBlocks]: value = code × scale + offset, in `"float"` mode (the block minimum). */
  readonly offsets: Float32Array;
  readonly n: number;
  readonly k: number;
  readonly kBlocks: number;
}

/**
 * How the block offset is represented. `"float"`: value = code × scale + min, with min exact, so
 * blocks already on an affine 4-bit grid of 32 values (GGUF Q4_0, Q4_1) are reproduced exactly;
 * the graph applies the offset as a small extra product of per-block input sums. `"uint8"`: an
 * integer zero point (value = (code − zp) × scale) with a least-squares scale.
 */
export type ZeroPointMode = "float" | "uint8";

/**
 * Quantizes `rows` (N rows of K floats, row-major: GGML order of a [K → N] linear weight) with one
 * scale and zero point per block of {@link Q4_BLOCK_SIZE} inputs: value ≈ (code − zp) × scale,
 * starting from the block's min/max and, for integer zero points, refitting the scale.
 */
export function quantizeQ4(rows: Float32Array, n: number, k: number, mode: ZeroPointMode = "uint8"): PackedQ4 {
  if (rows.length !== n * k) throw new RangeError(`quantizeQ4: expected ${n}x${k} values, got ${rows.length}`);
  const kBlocks = Math.ceil(k / Q4_BLOCK_SIZE);
  const blob = Q4_BLOCK_SIZE / 2;
  const codes = new Uint8Array(n * kBlocks * blob);
  const scales = new Float32Array(n * kBlocks);
  const zpStride = Math.ceil(kBlocks / 2);
  const zeroPoints = new Uint8Array(n * zpStride);
  const floatZeroPoints = new Float32Array(n * kBlocks);
  const offsets = new Float32Array(n * kBlocks);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < kBlocks; b++) {
      const start = row * k + b * Q4_BLOCK_SIZE;
      const end = Math.min(start + Q4_BLOCK_SIZE, row * k + k);
      let min = Infinity;
      let max = -Infinity;
      for (let i = start; i < end; i++) {
        const v = rows[i]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      if (mode === "uint8" && max === min) {
        // A constant block: span 0..value so that the value itself is representable.
        min = Math.min(min, 0);
        max = Math.max(max, 0);
      }
      let scale = Math.fround((max - min) / 15);
      let zp = scale === 0 ? -min : -min / scale;
      if (mode === "uint8" && scale !== 0) {
        // An integer zero point shifts the grid off the block's values (GGUF blocks already sit on
        // their own 4-bit grid); refit the scale by least squares for the nearby integer zero
        // points and keep the one with the smallest squared error.
        let best = { error: Infinity, scale, zp: Math.round(zp) };
        for (const candidate of [Math.floor(zp), Math.ceil(zp)]) {
          const z = Math.min(15, Math.max(0, candidate));
          let s = scale;
          for (let iteration = 0; iteration < 3; iteration++) {
            let num = 0;
            let den = 0;
            for (let i = start; i < end; i++) {
              const c = Math.min(15, Math.max(0, Math.round(rows[i]! / s + z))) - z;
              num += rows[i]! * c;
              den += c * c;
            }
            if (den === 0 || num === 0) break;
            s = num / den;
          }
          let error = 0;
          for (let i = start; i < end; i++) {
            const c = Math.min(15, Math.max(0, Math.round(rows[i]! / s + z)));
            error += (rows[i]! - (c - z) * s) ** 2;
          }
          if (error < best.error) best = { error, scale: Math.fround(s), zp: z };
        }
        scale = best.scale;
        zp = best.zp;
      }
      zp = Math.fround(zp);
      offsets[row * kBlocks + b] = mode === "float" ? min : -zp * scale;
      const inv = scale === 0 ? 0 : 1 / scale;
      scales[row * kBlocks + b] = scale;
      floatZeroPoints[row * kBlocks + b] = zp;
      zeroPoints[row * zpStride + (b >> 1)]! |= Math.round(Math.min(15, Math.max(0, zp))) << ((b & 1) * 4);
      const out = (row * kBlocks + b) * blob;
      for (let i = start; i < end; i++) {
        const j = i - start;
        const code = Math.min(15, Math.max(0, Math.round(mode === "float" ? (rows[i]! - min) * inv : rows[i]! * inv + zp)));
        codes[out + (j >> 1)]! |= code << ((j & 1) * 4);
      }
      // Padding inside the last block (K not a multiple of 32): multiplied by zero-padded inputs.
      const pad = Math.min(15, Math.max(0, Math.round(zp)));
      for (let j = end - start; j < Q4_BLOCK_SIZE; j++) codes[out + (j >> 1)]! |= pad << ((j & 1) * 4);
    }
  }
  return { codes, scales, zeroPoints, floatZeroPoints, offsets, n, k, kBlocks };
}

/** A weight packed for com.microsoft.MatMulNBits with bits = 8 (asymmetric, uint8 zero points). */
export interface PackedQ8 {
  /** [N, kBlocks, 32]. */
  readonly codes: Uint8Array;
  /** [N, kBlocks]. */
  readonly scales: Float32Array;
  /** [N, kBlocks]. */
  readonly zeroPoints: Uint8Array;
  readonly kBlocks: number;
}

/** 8-bit counterpart of {@link quantizeQ4} (same block size; 0 kept exact). */
export function quantizeQ8(rows: Float32Array, n: number, k: number): PackedQ8 {
  const kBlocks = Math.ceil(k / Q4_BLOCK_SIZE);
  const codes = new Uint8Array(n * kBlocks * Q4_BLOCK_SIZE);
  const scales = new Float32Array(n * kBlocks);
  const zeroPoints = new Uint8Array(n * kBlocks);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < kBlocks; b++) {
      const start = row * k + b * Q4_BLOCK_SIZE;
      const end = Math.min(start + Q4_BLOCK_SIZE, row * k + k);
      let min = 0;
      let max = 0;
      for (let i = start; i < end; i++) {
        min = Math.min(min, rows[i]!);
        max = Math.max(max, rows[i]!);
      }
      const scale = Math.fround((max - min) / 255);
      const zp = scale === 0 ? 128 : Math.min(255, Math.max(0, Math.round(-min / scale)));
      const inv = scale === 0 ? 0 : 1 / scale;
      scales[row * kBlocks + b] = scale;
      zeroPoints[row * kBlocks + b] = zp;
      const out = (row * kBlocks + b) * Q4_BLOCK_SIZE;
      for (let i = start; i < end; i++) codes[out + i - start] = Math.min(255, Math.max(0, Math.round(rows[i]! * inv) + zp));
      for (let j = end - start; j < Q4_BLOCK_SIZE; j++) codes[out + j] = zp;
    }
  }
  return { codes, scales, zeroPoints, kBlocks };
}
