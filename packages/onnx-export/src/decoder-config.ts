import { InvalidFileError, type GgufFile } from "@emosteer/core";
import { ARCHITECTURES, SUPPORTED_ARCHITECTURES, type ArchitectureFacts } from "./architecture.js";

/** The sizes and numerics of one decoder, read from GGUF metadata the way llama.cpp reads them. */
export interface DecoderConfig {
  readonly architecture: string;
  readonly facts: ArchitectureFacts;
  readonly name: string;
  readonly layerCount: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly headCount: number;
  readonly kvHeadCount: number;
  readonly headDim: number;
  readonly vocabSize: number;
  /** Tokens the graph computes exactly: the trained context, or for Phi-3 with LongRoPE factors the original context (see readDecoderConfig). */
  readonly contextLength: number;
  readonly rmsEps: number;
  /** RoPE base of global layers (`rope.freq_base`, default 10000). */
  readonly ropeBase: number;
  /** 1 / linear rope scaling factor (llama.cpp freq_scale). */
  readonly ropeFreqScale: number;
  /** Per layer: the sliding window size, or 0 for full attention. */
  readonly slidingWindowByLayer: readonly number[];
  /** Per layer: the RoPE base the layer uses. */
  readonly ropeBaseByLayer: readonly number[];
  readonly attentionScale: number;
  /** 0 when absent. */
  readonly finalLogitSoftcap: number;
  readonly tiedEmbeddings: boolean;
  /** Token embeddings are multiplied by this (Gemma: √hidden; Granite: `embedding_scale`; else 1). */
  readonly embeddingScale: number;
  /** Each block's attention and MLP outputs are multiplied by this before joining the residual (Granite; else 1). */
  readonly residualScale: number;
  /** Final logits are divided by this (Granite's `logit_scale`; else 1). */
  readonly logitDivisor: number;
  /**
   * RoPE frequency factors (`head_dim / 2`; pair i turns at θ_i / factor_i, ggml_rope_ext's
   * freq_factors): Llama 3's `rope_freqs`, or Phi-3's `rope_factors_short` (what llama.cpp uses at
   * contexts up to the original one). Null: none.
   */
  readonly ropeFactors: { readonly tensor: string } | null;
  /** `rope.scaling.attn_factor`: cos and sin are multiplied by it (ggml's mscale), so q·k by its square. 1 when absent. */
  readonly ropeAttnFactor: number;
}

/** Reads the decoder configuration; throws naming the missing key or unsupported feature. */
export function readDecoderConfig(gguf: GgufFile, factsOverride?: ArchitectureFacts): DecoderConfig {
  const path = gguf.source.name;
  const architecture = stringKey(gguf, "general.architecture");
  const facts = factsOverride ?? ARCHITECTURES[architecture];
  if (!facts) {
    throw new InvalidFileError(
      path,
      `architecture "${architecture}" is not supported by the ONNX exporter (supported: ${SUPPORTED_ARCHITECTURES.join(", ")})`,
    );
  }
  const key = (suffix: string) => `${architecture}.${suffix}`;
  const required = (suffix: string) => numberKey(gguf, key(suffix));
  const optional = (suffix: string, fallback: number) => (gguf.get(key(suffix)) === undefined ? fallback : numberKey(gguf, key(suffix)));

  const layerCount = required("block_count");
  const hiddenSize = required("embedding_length");
  const headCount = required("attention.head_count");
  const kvHeadCount = optional("attention.head_count_kv", headCount);
  const headDim = optional("attention.key_length", hiddenSize / headCount);
  const valueDim = optional("attention.value_length", headDim);
  if (valueDim !== headDim) throw new InvalidFileError(path, `key length ${headDim} differs from value length ${valueDim}; not supported`);
  const ropeDims = optional("rope.dimension_count", headDim);
  if (ropeDims !== headDim) throw new InvalidFileError(path, `partial RoPE (${ropeDims} of ${headDim} dims) is not supported`);
  const tokens = gguf.get("tokenizer.ggml.tokens");
  const vocabSize = optional("vocab_size", Array.isArray(tokens) ? tokens.length : 0);

  const scalingType = gguf.get(key("rope.scaling.type"));
  let ropeFreqScale = 1;
  if (scalingType !== undefined && scalingType !== "none") {
    if (scalingType !== "linear") throw new InvalidFileError(path, `RoPE scaling "${String(scalingType)}" is not supported (only linear)`);
    ropeFreqScale = 1 / optional("rope.scaling.factor", 1);
  }

  const ropeBase = optional("rope.freq_base", 10_000);
  const window = facts.slidingWindow ? optional("attention.sliding_window", 0) : 0;
  let slidingWindowByLayer = Array.from({ length: layerCount }, () => 0);
  let ropeBaseByLayer = Array.from({ length: layerCount }, () => ropeBase);
  if (facts.slidingWindow && window > 0) {
    const pattern = gguf.get(key("attention.sliding_window_pattern"));
    const period = typeof pattern === "number" ? pattern : facts.slidingWindow.defaultPeriod;
    const isLocal = (il: number) =>
      pattern instanceof Uint8Array || Array.isArray(pattern)
        ? Boolean((pattern as ArrayLike<number | boolean>)[il])
        : period === 0 || il % period < period - 1;
    const localBase = optional("rope.freq_base_swa", facts.slidingWindow.defaultLocalRopeBase);
    slidingWindowByLayer = slidingWindowByLayer.map((_, il) => (isLocal(il) ? window : 0));
    ropeBaseByLayer = ropeBaseByLayer.map((base, il) => (isLocal(il) ? localBase : base));
  }

  const multipliers = facts.multiplierKeys;
  const headDimScale = facts.attentionScale(headDim);
  const attentionScale = multipliers ? optional(multipliers.attention, 0) || headDimScale : headDimScale;
  // llama.cpp prefers rope_freqs; phi3's short/long factors are chosen by the context size, and the
  // exported graph (built for contexts up to the original length, as the engines default to) takes the short ones.
  const ropeFactorTensor = ["rope_freqs.weight", "rope_factors_short.weight"].find((name) => gguf.tensor(name) !== undefined);
  if (ropeFactorTensor && gguf.tensor(ropeFactorTensor)!.elementCount !== headDim / 2)
    throw new InvalidFileError(
      path,
      `${ropeFactorTensor} has ${gguf.tensor(ropeFactorTensor)!.elementCount} values, expected head_dim/2 = ${headDim / 2}`,
    );

  // Phi-3's short factors hold up to the original context; past it llama.cpp switches to the long
  // ones (n_ctx_seq > n_ctx_orig_yarn), which one static graph cannot. The export declares the
  // original context, so engines refuse a longer one instead of computing another function.
  const trainedContext = optional("context_length", 2048);
  const contextLength =
    ropeFactorTensor === "rope_factors_short.weight" && gguf.tensor("rope_factors_long.weight") !== undefined
      ? Math.min(trainedContext, optional("rope.scaling.original_context_length", trainedContext))
      : trainedContext;

  return {
    architecture,
    facts,
    name: typeof gguf.get("general.name") === "string" ? (gguf.get("general.name") as string) : architecture,
    layerCount,
    hiddenSize,
    intermediateSize: required("feed_forward_length"),
    headCount,
    kvHeadCount,
    headDim,
    vocabSize,
    contextLength,
    rmsEps: required("attention.layer_norm_rms_epsilon"),
    ropeBase,
    ropeFreqScale,
    slidingWindowByLayer,
    ropeBaseByLayer,
    attentionScale,
    finalLogitSoftcap: facts.finalLogitSoftcapKey ? optional(facts.finalLogitSoftcapKey, 0) : 0,
    tiedEmbeddings: gguf.tensor("output.weight") === undefined,
    embeddingScale: facts.scaleEmbeddingBySqrtHidden
      ? Math.fround(Math.sqrt(hiddenSize))
      : multipliers
        ? optional(multipliers.embedding, 0) || 1
        : 1,
    residualScale: multipliers ? optional(multipliers.residual, 0) || 1 : 1,
    logitDivisor: multipliers ? optional(multipliers.logitDivisor, 0) || 1 : 1,
    ropeFactors: ropeFactorTensor ? { tensor: ropeFactorTensor } : null,
    ropeAttnFactor: optional("rope.scaling.attn_factor", 1),
  };
}

function stringKey(gguf: GgufFile, key: string): string {
  const value = gguf.get(key);
  if (typeof value !== "string") throw new InvalidFileError(gguf.source.name, `metadata key ${key} is missing or not a string`);
  return value;
}

function numberKey(gguf: GgufFile, key: string): number {
  const value = gguf.get(key);
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  throw new InvalidFileError(gguf.source.name, `metadata key ${key} is missing or not a number`);
}
