/**
 * Dequantizers for the GGML block formats, bit-exact with gguf-py's `quants.dequantize()`.
 *
 * gguf-py computes in float32 with numpy, one operation at a time (no fused multiply-add). Every
 * float32 operation here is computed in double and rounded with `Math.fround` (or by the store into
 * the Float32Array); for +, −, × that double rounding gives the correctly rounded float32 result,
 * so the output equals numpy's bit for bit. Keep the operation order of quants.py when editing.
 *
 * @example
 * const bytes = await gguf.readTensorBytes(info);
 * const weights = dequantize(bytes, info.type, info.elementCount);
 */
import { UnsupportedFormatError } from "../errors.js";
import { GgmlType, ggmlTypeName, ggmlTypeTraits } from "./ggml-type.js";

type BlockDecoder = (src: Uint8Array, out: Float32Array, blocks: number) => void;

const fround = Math.fround;

/** float16 bits → float32 value, for all 65536 patterns (NaN payloads kept, as numpy does). */
let halfTable: Float32Array | undefined;
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = h & 0x7c00;
    const mant = h & 0x03ff;
    if (exp === 0x7c00) {
      bits[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    } else if (exp !== 0) {
      bits[h] = (sign | (((h & 0x7fff) + 0x1c000) << 13)) >>> 0;
    } else if (mant === 0) {
      bits[h] = sign >>> 0;
    } else {
      // Subnormal half: normalise the mantissa.
      let m = mant << 1;
      let e = 0;
      while ((m & 0x0400) === 0) {
        m <<= 1;
        e++;
      }
      bits[h] = (sign | ((127 - 15 - e) << 23) | ((m & 0x03ff) << 13)) >>> 0;
    }
  }
  halfTable = new Float32Array(bits.buffer);
  return halfTable;
}

/** Converts IEEE float16 bits to a number (exact). */
export function halfToFloat(bits: number): number {
  return halfToFloatTable()[bits & 0xffff]!;
}

const decodeF32: BlockDecoder = (src, out, n) => {
  new Uint8Array(out.buffer, out.byteOffset, n * 4).set(src.subarray(0, n * 4));
};

const decodeF16: BlockDecoder = (src, out, n) => {
  const H = halfToFloatTable();
  for (let i = 0; i < n; i++) out[i] = H[src[2 * i]! | (src[2 * i + 1]! << 8)]!;
};

const decodeBF16: BlockDecoder = (src, out, n) => {
  const bits = new Uint32Array(out.buffer, out.byteOffset, n);
  for (let i = 0; i < n; i++) bits[i] = ((src[2 * i]! | (src[2 * i + 1]! << 8)) << 16) >>> 0;
};

const decodeQ4_0: BlockDecoder = (src, out, blocks) => {
  const H = halfToFloatTable();
  for (let b = 0, o = 0, y = 0; b < blocks; b++, o += 18, y += 32) {
    const d = H[src[o]! | (src[o + 1]! << 8)]!;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 2 + j]!;
      out[y + j] = d * ((q & 0x0f) - 8);
      out[y + j + 16] = d * ((q >> 4) - 8);
    }
  }
};

const decodeQ4_1: BlockDecoder = (src, out, blocks) => {
  const H = halfToFloatTable();
  for (let b = 0, o = 0, y = 0; b < blocks; b++, o += 20, y += 32) {
    const d = H[src[o]! | (src[o + 1]! << 8)]!;
    const m = H[src[o + 2]! | (src[o + 3]! << 8)]!;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 4 + j]!;
      out[y + j] = fround(d * (q & 0x0f)) + m;
      out[y + j + 16] = fround(d * (q >> 4)) + m;
    }
  }
};

const decodeQ5_0: BlockDecoder = (src, out, blocks) => {
  const H = halfToFloatTable();
  for (let b = 0, o = 0, y = 0; b < blocks; b++, o += 22, y += 32) {
    const d = H[src[o]! | (src[o + 1]! << 8)]!;
    const qh = (src[o + 2]! | (src[o + 3]! << 8) | (src[o + 4]! << 16) | (src[o + 5]! << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 6 + j]!;
      out[y + j] = d * (((q & 0x0f) | (((qh >>> j) & 1) << 4)) - 16);
      out[y + j + 16] = d * (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16);
    }
  }
};

const decodeQ5_1: BlockDecoder = (src, out, blocks) => {
  const H = halfToFloatTable();
  for (let b = 0, o = 0, y = 0; b < blocks; b++, o += 24, y += 32) {
    const d = H[src[o]! | (src[o + 1]! << 8)]!;
    const m = H[src[o + 2]! | (src[o + 3]! << 8)]!;
    const qh = (src[o + 4]! | (src[o + 5]! << 8) | (src[o + 6]! << 16) | (src[o + 7]! << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 8 + j]!;
      out[y + j] = fround(d * ((q & 0x0f) | (((qh >>> j) & 1) << 4))) + m;
      out[y + j + 16] = fround(d * ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4))) + m;
    }
  }
};

const decodeQ8_0: BlockDecoder = (src, out, blocks) => {
  const H = halfToFloatTable();
  for (let b = 0, o = 0, y = 0; b < blocks; b++, o += 34, y += 32) {
    const d = H[src[o]! | (src[o + 1]! << 8)]!;
    for (let j = 0; j < 32; j++) out[y + j] = ((src[o + 2 + j]! << 24) >> 24) * d;
  }
};

/** The 6-bit scale and min of sub-block `s` of a Q4_K/Q5_K block (`get_scale_min` in quants.py). */
function scaleMin(src: Uint8Array, scales: number, s: number): [number, number] {
  if (s < 4) return [src[scales + s]! & 0x3f, src[scales + 4 + s]! & 0x3f];
  const md = src[scales + 8 + s - 4]!;
  return [(md & 0x0f) | ((src[scales + s - 4]! >> 2) & 0x30), (md >> 4) | ((src[scales + s]! >> 2) & 0x30)];
}

const decodeQ4_K: BlockDecoder = (src, out, blocks) => {
  const H = halfToFloatTable();
  for (let b = 0, o = 0, y = 0; b < blocks; b++, o += 144, y += 256) {
    const d = H[src[o]! | (src[o + 1]! << 8)]!;
    const dmin = H[src[o + 2]! | (src[o + 3]! << 8)]!;
    for (let s = 0; s < 8; s++) {
      const [sc, m] = scaleMin(src, o + 4, s);
      const ds = fround(d * sc);
      const dm = fround(dmin * m);
      const qs = o + 16 + 32 * (s >> 1);
      const shift = (s & 1) * 4;
      const ys = y + 32 * s;
      for (let j = 0; j < 32; j++) out[ys + j] = fround(ds * ((src[qs + j]! >> shift) & 0x0f)) - dm;
    }
  }
};

const decodeQ5_K: BlockDecoder = (src, out, blocks) => {
  const H = halfToFloatTable();
  for (let b = 0, o = 0, y = 0; b < blocks; b++, o += 176, y += 256) {
    const d = H[src[o]! | (src[o + 1]! << 8)]!;
    const dmin = H[src[o + 2]! | (src[o + 3]! << 8)]!;
    const qh = o + 16;
    for (let s = 0; s < 8; s++) {
      const [sc, m] = scaleMin(src, o + 4, s);
      const ds = fround(d * sc);
      const dm = fround(dmin * m);
      const qs = o + 48 + 32 * (s >> 1);
      const shift = (s & 1) * 4;
      const ys = y + 32 * s;
      for (let j = 0; j < 32; j++) {
        const q = ((src[qs + j]! >> shift) & 0x0f) | (((src[qh + j]! >> s) & 1) << 4);
        out[ys + j] = fround(ds * q) - dm;
      }
    }
  }
};

const decodeQ6_K: BlockDecoder = (src, out, blocks) => {
  const H = halfToFloatTable();
  const ds = new Float64Array(16);
  for (let b = 0, o = 0, y = 0; b < blocks; b++, o += 210, y += 256) {
    const d = H[src[o + 208]! | (src[o + 209]! << 8)]!;
    for (let s = 0; s < 16; s++) ds[s] = fround(d * ((src[o + 192 + s]! << 24) >> 24));
    // Output chunk r (32 values) takes nibble (r>>1)&1 of ql[64*(r>>2) + 32*(r&1) + e] and
    // bit pair r&3 of qh[32*(r>>2) + e].
    for (let r = 0; r < 8; r++) {
      const h = r >> 2;
      const qlBase = o + 64 * h + 32 * (r & 1);
      const qlShift = ((r >> 1) & 1) * 4;
      const qhBase = o + 128 + 32 * h;
      const qhShift = (r & 3) * 2;
      const yr = y + 32 * r;
      for (let e = 0; e < 32; e++) {
        const q = (((src[qlBase + e]! >> qlShift) & 0x0f) | (((src[qhBase + e]! >> qhShift) & 3) << 4)) - 32;
        out[yr + e] = ds[(32 * r + e) >> 4]! * q;
      }
    }
  }
};

const DECODERS: ReadonlyMap<number, BlockDecoder> = new Map([
  [GgmlType.F32, decodeF32],
  [GgmlType.F16, decodeF16],
  [GgmlType.BF16, decodeBF16],
  [GgmlType.Q4_0, decodeQ4_0],
  [GgmlType.Q4_1, decodeQ4_1],
  [GgmlType.Q5_0, decodeQ5_0],
  [GgmlType.Q5_1, decodeQ5_1],
  [GgmlType.Q8_0, decodeQ8_0],
  [GgmlType.Q4_K, decodeQ4_K],
  [GgmlType.Q5_K, decodeQ5_K],
  [GgmlType.Q6_K, decodeQ6_K],
]);

/** GGML types {@link dequantize} can decode. */
export const DEQUANTIZABLE_TYPES: readonly GgmlType[] = [...DECODERS.keys()] as GgmlType[];

/**
 * Decodes `elementCount` values of GGML type `type` from `bytes` (as stored in a GGUF tensor).
 * Throws {@link UnsupportedFormatError} for types without a decoder (IQ*, Q2_K, Q3_K, …) and
 * RangeError when `bytes` is shorter than `elementCount` values need.
 */
export function dequantize(bytes: Uint8Array, type: number, elementCount: number): Float32Array {
  const decode = DECODERS.get(type);
  const traits = ggmlTypeTraits(type);
  if (!decode || !traits) {
    throw new UnsupportedFormatError(
      `GGML tensor type ${ggmlTypeName(type)}`,
      `emosteer dequantizes ${DEQUANTIZABLE_TYPES.map(ggmlTypeName).join(", ")}; requantize the model to one of them (e.g. Q4_K_M or Q8_0)`,
    );
  }
  if (!Number.isSafeInteger(elementCount) || elementCount < 0 || elementCount % traits.blockSize !== 0) {
    throw new RangeError(`${traits.name}: element count ${elementCount} is not a multiple of the block size ${traits.blockSize}`);
  }
  const blocks = elementCount / traits.blockSize;
  const needed = blocks * traits.typeSize;
  if (bytes.length < needed) throw new RangeError(`${traits.name}: ${elementCount} values need ${needed} bytes, got ${bytes.length}`);
  const out = new Float32Array(elementCount);
  decode(bytes, out, blocks);
  return out;
}
