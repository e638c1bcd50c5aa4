import type { GraphBuilder } from "./graph-builder.js";
import type { ActivationRounding } from "./numerics.js";

const FLOAT = 1;
const FLOAT16 = 10;
/** Floor for a block's amax: keeps 127/amax finite, so an all-zero block rounds to zeros as in ggml (id = 0). */
const TINY_AMAX = 1e-30;

/** An activation after the rounding llama.cpp applies before a matmul. */
export interface RoundedActivation {
  readonly value: string;
  /**
   * `"q8_1"` only, `[..., inF/32]`: the block sum llama.cpp stores, fp16(d·Σq), minus the sum of
   * the rounded values, d16·Σq. A Q4_1/Q5_1 dot product multiplies the stored sum with each weight
   * block's minimum, so the matmul needs `blockSumError · minimaᵀ` added to be exact.
   */
  readonly blockSumError: string | null;
}

/** `x` (float32) rounded to fp16 and widened back, round-half-even like F16C's `_cvtss_sh`. */
export function roundToF16(g: GraphBuilder, x: string): string {
  return g.op("Cast", [g.op("Cast", [x], { to: FLOAT16 })], { to: FLOAT });
}

/**
 * Rounds `x` (`[batch, seq, inF]`) the way ggml converts a matmul's F32 activations to the
 * weight's `vec_dot_type`, with standard ONNX ops only (the values, not the int8 storage).
 */
export function roundActivation(g: GraphBuilder, x: string, rounding: ActivationRounding, inF: number): RoundedActivation {
  switch (rounding) {
    case "none":
      return { value: x, blockSumError: null };
    case "f16":
      return { value: roundToF16(g, x), blockSumError: null };
    case "q8_0":
    case "q8_1":
      return roundQ8Blocks32(g, x, inF, rounding === "q8_1");
    case "q8_K":
      return { value: roundQ8K(g, x, inF), blockSumError: null };
  }
}

/** Splits the last axis into blocks: `[B, S, inF]` → `[B, S, inF/size, size]`. */
function blocks(g: GraphBuilder, x: string, inF: number, size: number): string {
  if (inF % size !== 0) throw new RangeError(`a matmul input of ${inF} features does not split into blocks of ${size}`);
  return g.op("Reshape", [x, g.constInt64([0, 0, inF / size, size])]);
}

function blockAmax(g: GraphBuilder, xb: string): string {
  return g.op("ReduceMax", [g.op("Abs", [xb])], { axes: [-1], keepdims: 1 });
}

/**
 * quantize_row_q8_0 / quantize_row_q8_1 (AVX2): d = amax/127 kept as fp16, q = round(x·(127/amax));
 * the dot product sees q·fp16(d). For Q8_1 also the stored block sum s = fp16(d·Σq), with d in fp32.
 */
function roundQ8Blocks32(g: GraphBuilder, x: string, inF: number, withBlockSums: boolean): RoundedActivation {
  const xb = blocks(g, x, inF, 32);
  const amax = blockAmax(g, xb);
  const d = g.op("Div", [amax, g.constFloat([127], [])]);
  const d16 = roundToF16(g, d);
  const inverse = g.op("Div", [g.constFloat([127], []), g.op("Max", [amax, g.constFloat([TINY_AMAX], [])])]);
  const q = g.op("Round", [g.op("Mul", [xb, inverse])]);
  const value = g.op("Reshape", [g.op("Mul", [q, d16]), g.constInt64([0, 0, inF])]);
  if (!withBlockSums) return { value, blockSumError: null };
  const sumQ = g.op("ReduceSum", [q, g.constInt64([-1])], { keepdims: 1 });
  const stored = roundToF16(g, g.op("Mul", [d, sumQ]));
  const error = g.op("Sub", [stored, g.op("Mul", [d16, sumQ])]);
  return { value, blockSumError: g.op("Reshape", [error, g.constInt64([0, 0, inF / 32])]) };
}

/**
 * quantize_row_q8_K_ref: iscale = −127/max (max: the signed value of largest magnitude), q =
 * nearest_int(x·iscale), d = 1/iscale in fp32. The sign flip cancels in q·d, so the values are
 * round(x·s)·(1/s) with s = 127/amax.
 */
function roundQ8K(g: GraphBuilder, x: string, inF: number): string {
  const xb = blocks(g, x, inF, 256);
  const scale = g.op("Div", [g.constFloat([127], []), g.op("Max", [blockAmax(g, xb), g.constFloat([TINY_AMAX], [])])]);
  const q = g.op("Round", [g.op("Mul", [xb, scale])]);
  // Reciprocal, not Div(1, s): onnxruntime's DivMulFusion would turn q · (1/s) into q / s, which
  // rounds differently from ggml's q · d with d = 1/iscale.
  return g.op("Reshape", [g.op("Mul", [q, g.op("Reciprocal", [scale])]), g.constInt64([0, 0, inF])]);
}
