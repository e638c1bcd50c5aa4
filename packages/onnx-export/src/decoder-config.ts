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
}

/** Reads the decoder configuration; throws naming the missing key or unsupported feature. */
export function readDecoderConfig(gguf: GgufFile): DecoderConfig {
  const path = gguf.source.name;
  const architecture = stringKey(gguf, "general.architecture");
  const facts = ARCHITECTURES[architecture];
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
    contextLength: optional("context_length", 2048),
    rmsEps: required("attention.layer_norm_rms_epsilon"),
    ropeBase,
    ropeFreqScale,
    slidingWindowByLayer,
    ropeBaseByLayer,
    attentionScale: facts.attentionScale(headDim),
    finalLogitSoftcap: facts.finalLogitSoftcapKey ? optional(facts.finalLogitSoftcapKey, 0) : 0,
    tiedEmbeddings: gguf.tensor("output.weight") === undefined,
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
