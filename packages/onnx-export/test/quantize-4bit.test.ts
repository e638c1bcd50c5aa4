import { describe, expect, it } from "vitest";
import { Q4_BLOCK_SIZE, quantizeQ4 } from "../src/quantize-4bit.js";

/** Decodes MatMulNBits' layout back to floats: value = (code − zp) × scale. */
function dequantizeQ4(p: ReturnType<typeof quantizeQ4>, mode: "uint8" | "float" = "uint8"): Float32Array {
  const out = new Float32Array(p.n * p.k);
  const zpStride = Math.ceil(p.kBlocks / 2);
  for (let row = 0; row < p.n; row++) {
    for (let j = 0; j < p.k; j++) {
      const b = Math.floor(j / Q4_BLOCK_SIZE);
      const inBlock = j % Q4_BLOCK_SIZE;
      const byte = p.codes[(row * p.kBlocks + b) * (Q4_BLOCK_SIZE / 2) + (inBlock >> 1)]!;
      const code = (byte >> ((inBlock & 1) * 4)) & 15;
      const zp = (p.zeroPoints[row * zpStride + (b >> 1)]! >> ((b & 1) * 4)) & 15;
      const scale = p.scales[row * p.kBlocks + b]!;
      out[row * p.k + j] = mode === "float" ? code * scale + p.offsets[row * p.kBlocks + b]! : (code - zp) * scale;
    }
  }
  return out;
}

describe("quantizeQ4", () => {
  it("round-trips every value within half a step of its block", () => {
    const n = 5;
    const k = 96 + 7; // a ragged last block
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed / 2 ** 32) * 2 - 1;
    };
    const w = Float32Array.from({ length: n * k }, (_, i) => rand() * (1 + (i % 13)));
    const packed = quantizeQ4(w, n, k, "uint8");
    expect(packed.codes.length).toBe(n * Math.ceil(k / 32) * 16);
    const back = dequantizeQ4(packed);
    for (let i = 0; i < w.length; i++) {
      const row = Math.floor(i / k);
      const b = Math.floor((i % k) / Q4_BLOCK_SIZE);
      const scale = packed.scales[row * packed.kBlocks + b]!;
      // Half a step from rounding, plus the zero point's own rounding.
      expect(Math.abs(back[i]! - w[i]!)).toBeLessThanOrEqual(scale * 1.0 + 1e-6);
    }
  });

  it("keeps zero exact and handles constant blocks", () => {
    const w = new Float32Array(64).fill(0);
    w.fill(3, 32);
    const back = dequantizeQ4(quantizeQ4(w, 1, 64, "uint8"));
    expect(Array.from(back.subarray(0, 32))).toEqual(new Array(32).fill(0));
    for (const v of back.subarray(32)) expect(v).toBeCloseTo(3, 5);
  });

  it("reproduces blocks already on an affine 4-bit grid (GGUF Q4_1) in float mode", () => {
    // Q4_1: value = d·q + m with q in 0..15 (both ends present in a block).
    const d = 0.0123;
    const m = -0.0871;
    const q = Array.from({ length: 64 }, (_, i) => (i * 7) % 16);
    const w = Float32Array.from(q, (c) => Math.fround(d * c + m));
    const back = dequantizeQ4(quantizeQ4(w, 2, 32, "float"), "float");
    for (let i = 0; i < w.length; i++) expect(Math.abs(back[i]! - w[i]!)).toBeLessThan(1e-7);
  });
});
