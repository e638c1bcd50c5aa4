/**
 * One tiny synthetic model per registry family: the family's architecture with its real layout
 * (tensor names, fused or separate projections, norms, biases, multipliers, RoPE base and
 * factors, tied or separate output, the GQA ratio of its smallest registry model) at a few layers
 * and a small width. `python/synthetic_gguf.py` writes each row as an F32 GGUF with seeded weights.
 *
 * Sizes are scaled down, ratios kept: heads : kv heads as in the real model, head_dim 16–32.
 * Vocabularies: the family's own where llama.cpp's source ships it (`models/ggml-vocab-*.gguf`),
 * else a small one cut from the closest shipped vocabulary (`size`), as `vocabNote` says.
 */
export interface SyntheticFamily {
  /** Registry family name (ModelSpec.family). */
  readonly family: string;
  readonly architecture: string;
  /** What the sizes and settings were taken from. */
  readonly reference: string;
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly ff: number;
  readonly contextLength: number;
  readonly ropeBase: number;
  readonly rmsEps?: number;
  readonly tiedEmbeddings: boolean;
  readonly preNorms?: boolean;
  readonly fusedQkv?: boolean;
  readonly fusedGateUp?: boolean;
  readonly qkvBias?: boolean;
  readonly qkNorm?: "per-head" | "whole";
  readonly postNorms?: boolean;
  readonly multipliers?: { readonly embedding: number; readonly residual: number; readonly attention: number; readonly logit: number };
  /** GGUF tensor name (without `.weight`) → head_dim/2 factors. */
  readonly ropeFactors?: Readonly<Record<string, readonly number[]>>;
  readonly originalContextLength?: number;
  readonly ropeAttnFactor?: number;
  readonly slidingWindow?: number;
  readonly ropeBaseLocal?: number;
  /** `file`: llama.cpp's models/ggml-vocab-<file>.gguf; `size`: keep only its first tokens. */
  readonly vocab: { readonly file: string; readonly size?: number; readonly pre?: string };
  readonly vocabNote: string;
  readonly seed: number;
}

/** Llama 3's RoPE frequency factors (HF `rope_type: "llama3"`, convert_hf_to_gguf's `rope_freqs`). */
function llama3RopeFactors(headDim: number, base: number, factor = 32, low = 1, high = 4, original = 8192): number[] {
  const out: number[] = [];
  for (let i = 0; i < headDim; i += 2) {
    const wavelength = (2 * Math.PI) / (1 / base ** (i / headDim));
    if (wavelength < original / high) out.push(1);
    else if (wavelength > original / low) out.push(factor);
    else {
      const smooth = (original / wavelength - low) / (high - low);
      out.push(1 / ((1 - smooth) / factor + smooth));
    }
  }
  return out;
}

/** A smooth ramp standing in for Phi-3.5's LongRoPE factors (short ≈ 1 → 2.7, long ≈ 1 → 60 in the real file). */
const ramp = (n: number, from: number, to: number) => Array.from({ length: n }, (_, i) => from * (to / from) ** (i / Math.max(1, n - 1)));

export const SYNTHETIC_FAMILIES: readonly SyntheticFamily[] = [
  {
    family: "SmolLM2",
    architecture: "llama",
    reference: "SmolLM2-135M: 9 heads / 3 kv (3:1), rope 1e5, tied",
    layers: 3,
    hidden: 96,
    heads: 6,
    kvHeads: 2,
    headDim: 16,
    ff: 192,
    contextLength: 8192,
    ropeBase: 100_000,
    tiedEmbeddings: true,
    vocab: { file: "gpt-2", size: 1024, pre: "smollm" },
    vocabNote: "small (1,024 gpt-2 tokens, smollm pre-tokenizer): SmolLM2's vocabulary is not shipped",
    seed: 11,
  },
  {
    family: "Llama 3.2",
    architecture: "llama",
    reference: "Llama-3.2-1B: 32 heads / 8 kv (4:1), rope 5e5 with llama3 rope_freqs, tied",
    layers: 3,
    hidden: 64,
    heads: 4,
    kvHeads: 1,
    headDim: 16,
    ff: 128,
    contextLength: 131_072,
    ropeBase: 500_000,
    tiedEmbeddings: true,
    ropeFactors: { rope_freqs: llama3RopeFactors(16, 500_000) },
    vocab: { file: "llama-bpe" },
    vocabNote: "Llama 3's own (llama-bpe, 128,256 tokens)",
    seed: 12,
  },
  {
    family: "Mistral",
    architecture: "llama",
    reference: "Mistral-7B-v0.3: 32 heads / 8 kv (4:1), rope 1e6, untied",
    layers: 3,
    hidden: 128,
    heads: 8,
    kvHeads: 2,
    headDim: 16,
    ff: 256,
    contextLength: 32_768,
    ropeBase: 1_000_000,
    tiedEmbeddings: false,
    vocab: { file: "llama-spm" },
    vocabNote: "llama-spm (32,000 tokens; Mistral v0.3's adds 768 control tokens to it)",
    seed: 13,
  },
  {
    family: "Falcon3",
    architecture: "llama",
    reference: "Falcon3-1B: 8 heads / 4 kv (2:1), head_dim 256, rope 1000042, untied",
    layers: 3,
    hidden: 128,
    heads: 4,
    kvHeads: 2,
    headDim: 32,
    ff: 256,
    contextLength: 8192,
    ropeBase: 1_000_042,
    tiedEmbeddings: false,
    vocab: { file: "gpt-2", size: 1024, pre: "falcon3" },
    vocabNote: "small (1,024 gpt-2 tokens, falcon3 pre-tokenizer): Falcon3's vocabulary is not shipped",
    seed: 14,
  },
  {
    family: "TinyLlama",
    architecture: "llama",
    reference: "TinyLlama-1.1B: 32 heads / 4 kv (8:1), rope 1e4, untied",
    layers: 3,
    hidden: 128,
    heads: 8,
    kvHeads: 1,
    headDim: 16,
    ff: 256,
    contextLength: 2048,
    ropeBase: 10_000,
    tiedEmbeddings: false,
    vocab: { file: "llama-spm" },
    vocabNote: "its own (llama-spm, Llama 2's 32,000 tokens)",
    seed: 15,
  },
  {
    family: "Qwen2.5",
    architecture: "qwen2",
    reference: "Qwen2.5-0.5B: 14 heads / 2 kv (7:1), q/k/v biases, rope 1e6, tied",
    layers: 3,
    hidden: 112,
    heads: 7,
    kvHeads: 1,
    headDim: 16,
    ff: 224,
    contextLength: 32_768,
    ropeBase: 1_000_000,
    rmsEps: 1e-6,
    tiedEmbeddings: true,
    qkvBias: true,
    vocab: { file: "qwen2" },
    vocabNote: "its own (qwen2, 151,936 tokens)",
    seed: 16,
  },
  {
    family: "DeepSeek-R1-Distill",
    architecture: "qwen2",
    reference: "DeepSeek-R1-Distill-Qwen-1.5B: 12 heads / 2 kv (6:1), q/k/v biases, rope 1e4, untied",
    layers: 3,
    hidden: 96,
    heads: 6,
    kvHeads: 1,
    headDim: 16,
    ff: 192,
    contextLength: 131_072,
    ropeBase: 10_000,
    rmsEps: 1e-6,
    tiedEmbeddings: false,
    qkvBias: true,
    vocab: { file: "qwen2", pre: "deepseek-r1-qwen" },
    vocabNote:
      "Qwen2's (151,936 tokens; the distill keeps its BPE, with other special tokens) under its deepseek-r1-qwen pre-tokenizer name",
    seed: 17,
  },
  {
    family: "Gemma 3",
    architecture: "gemma3",
    reference: "gemma-3-270m: 4 heads / 1 kv, head_dim 256 ≠ hidden/heads, q/k norms, sandwich norms, GeGLU, 5 local : 1 global",
    layers: 6,
    hidden: 64,
    heads: 4,
    kvHeads: 1,
    headDim: 32,
    ff: 128,
    contextLength: 32_768,
    ropeBase: 1_000_000,
    rmsEps: 1e-6,
    tiedEmbeddings: true,
    qkNorm: "per-head",
    postNorms: true,
    slidingWindow: 8,
    ropeBaseLocal: 10_000,
    vocab: { file: "llama-spm", size: 1024 },
    vocabNote: "small (1,024 SentencePiece tokens of llama-spm): Gemma 3's vocabulary is not shipped",
    seed: 18,
  },
  {
    family: "Phi-3.5",
    architecture: "phi3",
    reference: "Phi-3.5-mini: 32 heads / 32 kv, fused attn_qkv and gate-up, LongRoPE short/long factors and attn_factor, untied",
    layers: 3,
    hidden: 64,
    heads: 4,
    kvHeads: 4,
    headDim: 16,
    ff: 128,
    contextLength: 131_072,
    originalContextLength: 4096,
    ropeAttnFactor: Math.sqrt(1 + Math.log(32) / Math.log(4096)),
    ropeBase: 10_000,
    tiedEmbeddings: false,
    fusedQkv: true,
    fusedGateUp: true,
    ropeFactors: { rope_factors_short: ramp(8, 1, 2.7), rope_factors_long: ramp(8, 1, 60) },
    vocab: { file: "phi-3" },
    vocabNote: "its own (phi-3, 32,064 tokens)",
    seed: 19,
  },
  {
    family: "OLMo 2",
    architecture: "olmo2",
    reference: "OLMo-2-0425-1B: 16 heads / 16 kv, no pre-norms, q/k norms over all heads, post-norms, rope 5e5, untied",
    layers: 3,
    hidden: 64,
    heads: 4,
    kvHeads: 4,
    headDim: 16,
    ff: 128,
    contextLength: 4096,
    ropeBase: 500_000,
    rmsEps: 1e-6,
    tiedEmbeddings: false,
    preNorms: false,
    qkNorm: "whole",
    postNorms: true,
    vocab: { file: "gpt-2", size: 1024, pre: "dbrx" },
    vocabNote:
      "small (1,024 gpt-2 tokens, dbrx pre-tokenizer, the cl100k-style split OLMo 2's dolma2 tokenizer is assumed to get): OLMo 2's vocabulary is not shipped",
    seed: 20,
  },
  {
    family: "Granite 3",
    architecture: "granite",
    reference:
      "granite-3.1-2b: 32 heads / 8 kv (4:1), multipliers embedding 12, residual 0.22, attention 0.015625, logits ÷8, rope 5e6, tied",
    layers: 3,
    hidden: 128,
    heads: 8,
    kvHeads: 2,
    headDim: 16,
    ff: 256,
    contextLength: 131_072,
    ropeBase: 5_000_000,
    tiedEmbeddings: true,
    multipliers: { embedding: 12, residual: 0.22, attention: 0.015625, logit: 8 },
    vocab: { file: "gpt-2", size: 1024, pre: "refact" },
    vocabNote:
      "small (1,024 gpt-2 tokens, refact pre-tokenizer, the StarCoder-style split Granite 3's tokenizer is assumed to get): Granite 3's vocabulary is not shipped",
    seed: 21,
  },
];
