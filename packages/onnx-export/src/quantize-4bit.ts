/** Block size of the 4-bit variant (along K, the input dimension). */
export const Q4_BLOCK_SIZE = 32;

/** A weight packed for com.microsoft.MatMulNBits (bits = 4, asymmetric, uint8 zero points). */
export interface PackedQ4 {
  /** [N, kBlocks, 16]: two codes a byte, low nibble first. */
  readonly codes: Uint8Array;
  /** [N, kBlocks]. */
  readonly scales: Float32Array;
  /** [N, ceil(kBlocks / 2)]: two zero points a byte, low nibble first. */
  readonly zeroPoints: Uint8Array;
  readonly n: number;
  readonly k: number;
  readonly kBlocks: number;
}

/**
 * Quantizes `rows` (N rows of K floats, row-major: GGML order of a [K → N] linear weight) with one
 * scale and zero point per block of {@link Q4_BLOCK_SIZE} inputs: value ≈ (code − zp) × scale, with
 * min/max chosen so that both ends of the block are representable (0 is exact when inside).
 */
export function quantizeQ4(rows: Float32Array, n: number, k: number): PackedQ4 {
  if (rows.length !== n * k) throw new RangeError(`quantizeQ4: expected ${n}x${k} values, got ${rows.length}`);
  const kBlocks = Math.ceil(k / Q4_BLOCK_SIZE);
  const blob = Q4_BLOCK_SIZE / 2;
  const codes = new Uint8Array(n * kBlocks * blob);
  const scales = new Float32Array(n * kBlocks);
  const zpStride = Math.ceil(kBlocks / 2);
  const zeroPoints = new Uint8Array(n * zpStride);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < kBlocks; b++) {
      const start = row * k + b * Q4_BLOCK_SIZE;
      const end = Math.min(start + Q4_BLOCK_SIZE, row * k + k);
      let min = 0;
      let max = 0;
      for (let i = start; i < end; i++) {
        const v = rows[i]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const scale = (max - min) / 15;
      const zp = scale === 0 ? 8 : Math.min(15, Math.max(0, Math.round(-min / scale)));
      const inv = scale === 0 ? 0 : 1 / scale;
      scales[row * kBlocks + b] = scale;
      zeroPoints[row * zpStride + (b >> 1)]! |= zp << ((b & 1) * 4);
      const out = (row * kBlocks + b) * blob;
      for (let i = start; i < end; i++) {
        const j = i - start;
        const code = Math.min(15, Math.max(0, Math.round(rows[i]! * inv) + zp));
        codes[out + (j >> 1)]! |= code << ((j & 1) * 4);
      }
      // Padding inside the last block (K not a multiple of 32) decodes to 0: code = zp.
      for (let j = end - start; j < Q4_BLOCK_SIZE; j++) codes[out + (j >> 1)]! |= zp << ((j & 1) * 4);
    }
  }
  return { codes, scales, zeroPoints, n, k, kBlocks };
}
