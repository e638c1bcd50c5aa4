import { GgmlType, ggmlTypeName } from "@emosteer/core";

/**
 * How the exported graph rounds intermediate values. `"exact"`: fp32 throughout on the exactly
 * dequantized weights (what transformers.js loads by default). `"llama.cpp"`: additionally rounds
 * where llama.cpp's CPU backend rounds, so the graph reproduces llama.cpp's logits on the same GGUF.
 */
export type Numerics = "exact" | "llama.cpp";

export const NUMERICS_MODES: readonly Numerics[] = ["exact", "llama.cpp"];

/**
 * What a matmul's activation input becomes before the dot product, as ggml's CPU backend converts
 * it to the weight type's `vec_dot_type` (ggml-cpu.c `type_traits_cpu`):
 * - `"q8_0"`: blocks of 32, scale d = amax/127 stored as fp16, q = round-half-even(x·127/amax)
 *   (arch/x86/quants.c `quantize_row_q8_0`, AVX2).
 * - `"q8_1"`: the same values, plus the block sum s = fp16(d·Σq) that Q4_1/Q5_1 dot products
 *   multiply with the weight block's minimum instead of Σx (`ggml_vec_dot_q4_1_q8_1`).
 * - `"q8_K"`: blocks of 256, fp32 scale 1/iscale with iscale = ∓127/amax, q = nearest_int(x·iscale)
 *   (ggml-quants.c `quantize_row_q8_K_ref`; the AVX2 repack quantizer computes the same values).
 * - `"f16"`: rounded to fp16 (F16 weights); `"none"`: unchanged (F32 weights).
 */
export type ActivationRounding = "none" | "f16" | "q8_0" | "q8_1" | "q8_K";

/** The numerics of one mode: where the graph rounds, mirroring one engine. */
export interface NumericsFacts {
  /** Rounding of a linear layer's input, given its weight's GGML type. */
  readonly matmulInput: (weightType: GgmlType) => ActivationRounding;
  /**
   * Attention operands: `"f16"` rounds Q, K and V and the softmax probabilities to fp16, as
   * llama.cpp's non-flash attention does with its F16 KV cache (K·Q and V·P are F16 matmuls, whose
   * F32 operand ggml converts to fp16 first).
   */
  readonly attentionOperands: "f32" | "f16";
  /**
   * `"f16-table"`: GELU as ggml's GGML_GELU_FP16 path, fp16(gelu(fp16(x))) for |x| < 10, 0 below
   * −10, x above 10 (ggml-cpu vec.h `ggml_vec_geglu_f32`). `"exact"`: the fp32 tanh formula.
   */
  readonly gelu: "exact" | "f16-table";
  /**
   * RoPE angles. `"onnx-trig"`: Cos/Sin of position × inverse frequency in the graph.
   * `"ggml-table"`: a `contextLength × headDim/2` table of cos and sin computed as
   * ggml_rope_cache_init does (θ multiplied by powf(base, −2/d) pair by pair in float32), looked
   * up by position: the angles then match llama.cpp's to the last bit, where a differing bit
   * would flip later fp16 and int8 roundings.
   */
  readonly rope: "onnx-trig" | "ggml-table";
}

/** ggml's `vec_dot_type` of each weight type the exporter can dequantize, as a rounding. */
const LLAMA_CPP_VEC_DOT: ReadonlyMap<GgmlType, ActivationRounding> = new Map<GgmlType, ActivationRounding>([
  [GgmlType.F32, "none"],
  [GgmlType.F16, "f16"],
  [GgmlType.Q4_0, "q8_0"],
  [GgmlType.Q5_0, "q8_0"],
  [GgmlType.Q8_0, "q8_0"],
  [GgmlType.Q4_1, "q8_1"],
  [GgmlType.Q5_1, "q8_1"],
  [GgmlType.Q4_K, "q8_K"],
  [GgmlType.Q5_K, "q8_K"],
  [GgmlType.Q6_K, "q8_K"],
]);

/** llama.cpp CPU's activation rounding for a weight type; throws for a type it is not known for. */
export function llamaCppMatmulInput(weightType: GgmlType): ActivationRounding {
  const rounding = LLAMA_CPP_VEC_DOT.get(weightType);
  if (!rounding) {
    throw new RangeError(
      `llama.cpp numerics are not emulated for ${ggmlTypeName(weightType)} weights (known: ${[...LLAMA_CPP_VEC_DOT.keys()].map(ggmlTypeName).join(", ")}); export with numerics "exact".`,
    );
  }
  return rounding;
}

export const NUMERICS: Readonly<Record<Numerics, NumericsFacts>> = {
  exact: { matmulInput: () => "none", attentionOperands: "f32", gelu: "exact", rope: "onnx-trig" },
  "llama.cpp": { matmulInput: llamaCppMatmulInput, attentionOperands: "f16", gelu: "f16-table", rope: "ggml-table" },
};
