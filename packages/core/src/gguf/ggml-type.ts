/** GGML tensor element types, with the ids GGUF files store (ggml.h `enum ggml_type`). */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
  NVFP4: 40,
  Q1_0: 41,
  Q2_0: 42,
} as const;

export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

/** Elements per block and bytes per block of a {@link GgmlType}. */
export interface GgmlTypeTraits {
  readonly name: string;
  readonly blockSize: number;
  readonly typeSize: number;
}

const QK_K = 256;

// Same table as gguf-py's GGML_QUANT_SIZES (constants.py) for the llama.cpp version we bundle.
const TRAITS: ReadonlyMap<number, GgmlTypeTraits> = new Map(
  (
    [
      ["F32", 1, 4],
      ["F16", 1, 2],
      ["Q4_0", 32, 2 + 16],
      ["Q4_1", 32, 2 + 2 + 16],
      ["Q5_0", 32, 2 + 4 + 16],
      ["Q5_1", 32, 2 + 2 + 4 + 16],
      ["Q8_0", 32, 2 + 32],
      ["Q8_1", 32, 4 + 4 + 32],
      ["Q2_K", 256, 2 + 2 + QK_K / 16 + QK_K / 4],
      ["Q3_K", 256, 2 + QK_K / 4 + QK_K / 8 + 12],
      ["Q4_K", 256, 2 + 2 + QK_K / 2 + 12],
      ["Q5_K", 256, 2 + 2 + QK_K / 2 + QK_K / 8 + 12],
      ["Q6_K", 256, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16],
      ["Q8_K", 256, 4 + QK_K + QK_K / 8],
      ["IQ2_XXS", 256, 2 + QK_K / 4],
      ["IQ2_XS", 256, 2 + QK_K / 4 + QK_K / 32],
      ["IQ3_XXS", 256, 2 + QK_K / 4 + QK_K / 8],
      ["IQ1_S", 256, 2 + QK_K / 8 + QK_K / 16],
      ["IQ4_NL", 32, 2 + 16],
      ["IQ3_S", 256, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4],
      ["IQ2_S", 256, 2 + QK_K / 4 + QK_K / 16],
      ["IQ4_XS", 256, 2 + 2 + QK_K / 2 + QK_K / 64],
      ["I8", 1, 1],
      ["I16", 1, 2],
      ["I32", 1, 4],
      ["I64", 1, 8],
      ["F64", 1, 8],
      ["IQ1_M", 256, QK_K / 8 + QK_K / 16 + QK_K / 32],
      ["BF16", 1, 2],
      ["TQ1_0", 256, 2 + 4 * 13],
      ["TQ2_0", 256, 2 + 64],
      ["MXFP4", 32, 1 + 16],
      ["NVFP4", 64, 4 + 32],
      ["Q1_0", 128, 2 + 16],
      ["Q2_0", 64, 2 + 16],
    ] as const
  ).map(([name, blockSize, typeSize]) => [GgmlType[name], { name, blockSize, typeSize }]),
);

/** Block layout of a GGML type, or `undefined` for an id this llama.cpp version does not know. */
export function ggmlTypeTraits(type: number): GgmlTypeTraits | undefined {
  return TRAITS.get(type);
}

/** Name of a GGML type id (`"Q4_K"`), or `"type <id>"` for an unknown id. */
export function ggmlTypeName(type: number): string {
  return TRAITS.get(type)?.name ?? `type ${type}`;
}
