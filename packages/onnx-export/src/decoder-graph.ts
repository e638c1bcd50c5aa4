import type { GgmlType } from "@emosteer/core";
import { roundActivation, roundToF16, type RoundedActivation } from "./activation-rounding.js";
import type { DecoderConfig } from "./decoder-config.js";
import { type GraphBuilder, MS_DOMAIN } from "./graph-builder.js";
import { NUMERICS, type ActivationRounding, type NumericsFacts } from "./numerics.js";
import { Q4_BLOCK_SIZE, quantizeQ4, quantizeQ8, type ZeroPointMode } from "./quantize-4bit.js";

/** `"fp32"`: the GGUF weights dequantized exactly. `"q4"`: linear layers re-quantized to 4 bits (MatMulNBits, int8 activations), LM head 8 bits. */
export type Precision = "fp32" | "q4";

export const PRECISIONS: readonly Precision[] = ["fp32", "q4"];

/** Dequantized GGUF tensors by name, GGML order (for a linear weight: `out` rows of `in` floats). */
export interface WeightSource {
  has(name: string): boolean;
  read(name: string): Promise<Float32Array>;
  /** The tensor's type in the GGUF (decides how llama.cpp rounds the activations it multiplies). */
  type(name: string): GgmlType;
  /** Q4_1/Q5_1: each block's minimum `m`, `rows × (cols/32)`, GGML order. */
  readBlockMinima(name: string): Promise<Float32Array>;
}

/** Names of the graph's inputs and outputs (the transformers.js decoder convention, plus steering). */
export const GRAPH_IO = {
  inputIds: "input_ids",
  attentionMask: "attention_mask",
  positionIds: "position_ids",
  steering: "steering",
  logits: "logits",
  pastKey: (layer: number) => `past_key_values.${layer}.key`,
  pastValue: (layer: number) => `past_key_values.${layer}.value`,
  presentKey: (layer: number) => `present.${layer}.key`,
  presentValue: (layer: number) => `present.${layer}.value`,
  hiddenState: (layer: number) => `hidden_states.${layer}`,
} as const;

export const OPSET = 17;

/**
 * Which operators carry the layers. `"contrib"` (the default): onnxruntime's fused kernels
 * (SimplifiedLayerNormalization, and from com.microsoft SkipSimplifiedLayerNormalization and
 * RotaryEmbedding) and one matmul for Q·K·V and one for gate·up: a SmolLM2-135M decode step runs
 * 1,488 kernels instead of 2,553. The graph's inputs and outputs are the same. Attention stays in
 * plain ops: onnxruntime's CPU GroupQueryAttention refuses a run of several rows of several tokens
 * after a KV cache ("batch_size must be 1 when sequence_length > 1 and past context is given"),
 * which batched captures are. `"standard"`: the same network from plain ONNX ops only.
 */
export type GraphOps = "contrib" | "standard";

export const GRAPH_OPS: readonly GraphOps[] = ["contrib", "standard"];
/** Additive mask value: finite so that fully-masked rows (left padding) stay NaN-free. */
const MASKED = -1e30;

export interface BuildDecoderOptions {
  readonly precision: Precision;
  /** Add the `steering` input (Defaults to true). False builds the plain decoder, for checking that zero steering changes nothing. */
  readonly steerable?: boolean;
  /** MatMulNBits accuracy_level (4 = int8 activations, fastest on CPU). Defaults to 4. */
  readonly q4AccuracyLevel?: number;
  /** Offset representation of the 4-bit weights. Defaults to `"float"` (exact for Q4_0/Q4_1 sources). */
  readonly q4ZeroPoints?: ZeroPointMode;
  /**
   * Precision of the LM head in the 4-bit variant. Defaults to `"q8"`: a 4-bit head costs most of
   * the agreement with fp32 on small models (top-1 92 % → 71 % on SmolLM2-135M).
   */
  readonly q4Head?: "q8" | "q4" | "fp32";
  /** Where the graph rounds (fp32 precision only). Defaults to {@link NUMERICS}.exact. */
  readonly numerics?: NumericsFacts;
  /** Defaults to `"contrib"`; see {@link GraphOps}. */
  readonly ops?: GraphOps;
  readonly onLayer?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

/**
 * Builds the steerable decoder graph into `g`. Numerics follow llama.cpp's graph for the same GGUF
 * (src/models/{llama,qwen2,gemma3,phi3,olmo2,granite}.cpp): RMS norms, NEOX RoPE (llama's permuted q/k rows undone),
 * grouped-query attention with causal (and sliding-window) masks, gated MLP, and the steering row
 * of each block added to its output, where llama.cpp applies a control vector. `numerics` adds
 * llama.cpp's roundings (matmul activations, fp16 attention operands, fp16 GELU table).
 */
export async function buildDecoderGraph(
  g: GraphBuilder,
  config: DecoderConfig,
  weights: WeightSource,
  options: BuildDecoderOptions,
): Promise<void> {
  const { facts, hiddenSize: H, headCount: nh, kvHeadCount: nkv, headDim: hd, layerCount: L } = config;
  const q4 = options.precision === "q4";
  const accuracyLevel = options.q4AccuracyLevel ?? 4;
  const zeroPointMode: ZeroPointMode = options.q4ZeroPoints ?? "float";
  const numerics = options.numerics ?? NUMERICS.exact;
  const contrib = (options.ops ?? "contrib") === "contrib";
  if (q4 && numerics !== NUMERICS.exact)
    throw new RangeError("numerics other than exact apply to the fp32 precision only (the q4 graph has its own int8 activations).");
  // ---- inputs
  const inputIds = g.input(GRAPH_IO.inputIds, "int64", ["batch_size", "sequence_length"]);
  const attentionMask = g.input(GRAPH_IO.attentionMask, "int64", ["batch_size", "total_sequence_length"]);
  const positionIds = g.input(GRAPH_IO.positionIds, "int64", ["batch_size", "sequence_length"]);
  const pastKeys: string[] = [];
  const pastValues: string[] = [];
  for (let i = 0; i < L; i++) {
    pastKeys.push(g.input(GRAPH_IO.pastKey(i), "float32", ["batch_size", nkv, "past_sequence_length", hd]));
    pastValues.push(g.input(GRAPH_IO.pastValue(i), "float32", ["batch_size", nkv, "past_sequence_length", hd]));
  }
  // One steering table per sequence: row b of the batch adds steering[b, il] after block il, so
  // requests with different mixes share one run. A batch of 1 computes what the former `[L, H]`
  // input did (the same Add, broadcast over the sequence axis).
  const steering = options.steerable === false ? null : g.input(GRAPH_IO.steering, "float32", ["batch_size", L, H]);

  // ---- helpers
  const normWeight = async (weightName: string): Promise<string> => {
    const data = await weights.read(weightName);
    return g.initializer(weightName, "float32", [data.length], data);
  };
  const rmsNorm = async (x: string, weightName: string, base: string): Promise<string> => {
    const w = await normWeight(weightName);
    // onnxruntime's kernel (registered in the ONNX domain): x · 1/√(mean(x²) + ε) · w in one pass.
    if (contrib) return g.op("SimplifiedLayerNormalization", [x, w], { axis: -1, epsilon: { float: config.rmsEps } }, { base });
    const sq = g.op("Mul", [x, x]);
    const mean = g.op("ReduceMean", [sq], { axes: [-1], keepdims: 1 });
    const inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [mean, g.constFloat([config.rmsEps], [])])])]);
    return g.op("Mul", [g.op("Mul", [x, inv]), w], {}, { base });
  };

  /** Per-block sums of x's last axis ([..., inF] → [..., inF/32]), computed once per input. */
  const blockSums = new Map<string, string>();
  const blockSumsOf = (x: string, inF: number): string => {
    let sums = blockSums.get(x);
    if (!sums) {
      sums = g.op("ReduceSum", [g.op("Reshape", [x, g.constInt64([0, 0, inF / Q4_BLOCK_SIZE, Q4_BLOCK_SIZE])]), g.constInt64([-1])], {
        keepdims: 0,
      });
      blockSums.set(x, sums);
    }
    return sums;
  };
  /**
   * x · Wᵀ with W (outF rows of inF) re-quantized to 4 bits. In `"float"` zero-point mode the
   * integer kernel computes Σ code·scale·x and the block minima are added as (block sums of x) ·
   * minᵀ, which keeps onnxruntime's fast int8-activation kernel (float zero points are not).
   */
  const matMulNBits = (x: string, base: string, w: Float32Array, outF: number, inF: number): string => {
    const packed = quantizeQ4(w, outF, inF, zeroPointMode);
    const float = zeroPointMode === "float";
    const codes = g.initializer(`${base}.q4`, "uint8", [outF, packed.kBlocks, Q4_BLOCK_SIZE / 2], packed.codes);
    const scales = g.initializer(`${base}.scales`, "float32", [outF * packed.kBlocks], packed.scales);
    const y = g.op(
      "MatMulNBits",
      // Float mode has no zero_points input: the kernel's default zero point 8 gives (code − 8)·scale,
      // and the 8·scale goes into the block offset below, so it runs the symmetric int8 kernel.
      float
        ? [x, codes, scales]
        : [x, codes, scales, g.initializer(`${base}.zero_points`, "uint8", [packed.zeroPoints.length], packed.zeroPoints)],
      { K: inF, N: outF, bits: 4, block_size: Q4_BLOCK_SIZE, accuracy_level: accuracyLevel },
      { domain: MS_DOMAIN },
    );
    if (!float) return y;
    const offsets = packed.offsets.map((offset, i) => Math.fround(offset + 8 * packed.scales[i]!));
    const offsetsT = g.initializer(`${base}.block_min`, "float32", [packed.kBlocks, outF], transpose(offsets, outF, packed.kBlocks));
    return g.op("Add", [y, g.op("MatMul", [blockSumsOf(x, inF), offsetsT])]);
  };
  /** x as the matmul with `weightName` sees it under `numerics`; computed once per input and rounding. */
  const roundedInputs = new Map<string, RoundedActivation>();
  const matmulInput = (x: string, weightName: string, inF: number): RoundedActivation => {
    const rounding: ActivationRounding = numerics.matmulInput(weights.type(weightName));
    const key = `${x}|${rounding}`;
    let rounded = roundedInputs.get(key);
    if (!rounded) {
      rounded = roundActivation(g, x, rounding, inF);
      roundedInputs.set(key, rounded);
    }
    return rounded;
  };
  /** Adds blockSumError · minimaᵀ (Q4_1/Q5_1 weights under Q8_1 activations) to y = x · Wᵀ. */
  const withBlockSums = async (
    y: string,
    input: RoundedActivation,
    weightName: string,
    rows: { readonly start: number; readonly count: number; readonly total: number },
    inF: number,
    rowOrder?: RowOrder,
    name = weightName,
  ): Promise<string> => {
    if (!input.blockSumError) return y;
    const blockCount = inF / 32;
    const outF = rows.count;
    let minima = await weights.readBlockMinima(weightName);
    if (rows.count !== rows.total) minima = minima.slice(rows.start * blockCount, (rows.start + rows.count) * blockCount);
    if (rowOrder) minima = rowOrder(minima, blockCount);
    const minimaT = g.initializer(`${name}.block_minima`, "float32", [blockCount, outF], transpose(minima, outF, blockCount));
    return g.op("Add", [y, g.op("MatMul", [input.blockSumError, minimaT])]);
  };
  /** x[..., inF] · Wᵀ (+ bias) → [..., outF]; W in GGML order (outF rows of inF). */
  const linear = async (x: string, weightName: string, outF: number, inF: number, rowOrder?: RowOrder): Promise<string> =>
    linearRows(x, weightName, { start: 0, count: outF, total: outF }, inF, rowOrder);
  /**
   * x · Wᵀ for rows [start, start + count) of the GGUF tensor `weightName` (`total` rows of inF):
   * one of the projections a fused tensor holds (Phi-3's attn_qkv and gate-up ffn_up), as
   * llama.cpp's loader views them. The whole tensor is `rows.count === rows.total`.
   */
  const linearRows = async (
    x: string,
    weightName: string,
    rows: { readonly start: number; readonly count: number; readonly total: number },
    inF: number,
    rowOrder?: RowOrder,
    sliceName = "",
  ): Promise<string> => {
    const outF = rows.count;
    const whole = await weights.read(weightName);
    if (whole.length !== rows.total * inF) throw new RangeError(`${weightName}: expected ${rows.total}x${inF} values, got ${whole.length}`);
    let w = rows.count === rows.total ? whole : whole.slice(rows.start * inF, (rows.start + rows.count) * inF);
    if (rowOrder) w = rowOrder(w, inF);
    const name = `${weightName}${sliceName}`;
    let y: string;
    if (q4 && inF % Q4_BLOCK_SIZE === 0) {
      y = matMulNBits(x, name.replace(/\.weight$/, ""), w, outF, inF);
    } else {
      const input = matmulInput(x, weightName, inF);
      y = g.op("MatMul", [input.value, g.initializer(name, "float32", [inF, outF], transpose(w, outF, inF))]);
      y = await withBlockSums(y, input, weightName, rows, inF, rowOrder, name);
    }
    const biasName = weightName.replace(/\.weight$/, ".bias");
    if (weights.has(biasName)) {
      const bias = (await weights.read(biasName)).slice(rows.start, rows.start + rows.count);
      y = g.op("Add", [y, g.initializer(`${biasName}${sliceName}`, "float32", [outF], bias)]);
    }
    return y;
  };

  /** One projection of a {@link linearGroup}: rows of a GGUF tensor, as {@link linearRows} takes them. */
  interface Projection {
    readonly weightName: string;
    readonly rows: { readonly start: number; readonly count: number; readonly total: number };
    readonly rowOrder?: RowOrder;
    readonly sliceName?: string;
  }
  /**
   * The projections of one input (Q, K, V; gate, up) as x · Wᵀ each. With contrib ops they are one
   * matmul over the rows stacked, split afterwards: every output is the same dot product, and a
   * decode step runs one kernel instead of three. Fused only where the parts are multiplied the
   * same way (all 4-bit, or fp32 with unrounded inputs), else one {@link linearRows} per part.
   */
  const linearGroup = async (x: string, parts: readonly Projection[], inF: number, fusedName: string): Promise<string[]> => {
    const fusable =
      contrib &&
      parts.length > 1 &&
      (q4 ? inF % Q4_BLOCK_SIZE === 0 : parts.every((part) => numerics.matmulInput(weights.type(part.weightName)) === "none"));
    if (!fusable) {
      const out: string[] = [];
      for (const part of parts) out.push(await linearRows(x, part.weightName, part.rows, inF, part.rowOrder, part.sliceName ?? ""));
      return out;
    }
    const outF = parts.reduce((sum, part) => sum + part.rows.count, 0);
    const stacked = new Float32Array(outF * inF);
    const bias = new Float32Array(outF);
    let hasBias = false;
    let row = 0;
    for (const part of parts) {
      const whole = await weights.read(part.weightName);
      if (whole.length !== part.rows.total * inF)
        throw new RangeError(`${part.weightName}: expected ${part.rows.total}x${inF} values, got ${whole.length}`);
      let w = whole.subarray(part.rows.start * inF, (part.rows.start + part.rows.count) * inF);
      if (part.rowOrder) w = part.rowOrder(w, inF);
      stacked.set(w, row * inF);
      const biasName = part.weightName.replace(/\.weight$/, ".bias");
      if (weights.has(biasName)) {
        bias.set((await weights.read(biasName)).subarray(part.rows.start, part.rows.start + part.rows.count), row);
        hasBias = true;
      }
      row += part.rows.count;
    }
    let y = q4
      ? matMulNBits(x, fusedName, stacked, outF, inF)
      : g.op("MatMul", [x, g.initializer(`${fusedName}.weight`, "float32", [inF, outF], transpose(stacked, outF, inF))]);
    if (hasBias) y = g.op("Add", [y, g.initializer(`${fusedName}.bias`, "float32", [outF], bias)]);
    return g.node("Split", [y, g.constInt64(parts.map((part) => part.rows.count))], { axis: -1 }, { outputCount: parts.length });
  };

  const unpermuteRows =
    (heads: number): RowOrder =>
    (w, cols) =>
      facts.qkRowLayout === "interleaved" ? interleavedToHalves(w, heads, hd, cols) : w;

  // ---- shared values: embeddings, RoPE tables, masks
  const embedding = await weights.read("token_embd.weight");
  const embeddingName = g.initializer("token_embd.weight", "float32", [config.vocabSize, H], embedding);
  let hidden = g.op("Gather", [embeddingName, inputIds], { axis: 0 });
  if (config.embeddingScale !== 1) hidden = g.op("Mul", [hidden, g.constFloat([config.embeddingScale], [])]);

  const ropeFactors = config.ropeFactors ? await weights.read(config.ropeFactors.tensor) : null;
  /** ggml's mscale: cos and sin times the attention factor (no-op at 1). */
  const mscale = (x: string) => (config.ropeAttnFactor === 1 ? x : g.op("Mul", [x, g.constFloat([config.ropeAttnFactor], [])]));
  const ropeTables = new Map<number, { cos: string; sin: string }>();
  const ropeFor = (base: number) => {
    let t = ropeTables.get(base);
    if (!t) {
      const toHeads = (x: string) => g.op("Unsqueeze", [x, g.constInt64([1])]); // [B,1,S,hd/2]
      if (numerics.rope === "ggml-table") {
        const table = ggmlRopeTable(base, config.ropeFreqScale, hd, config.contextLength, ropeFactors, config.ropeAttnFactor);
        const lookup = (name: string, data: Float32Array) =>
          toHeads(
            g.op("Gather", [g.initializer(`rope_${name}_${base}`, "float32", [config.contextLength, hd / 2], data), positionIds], {
              axis: 0,
            }),
          );
        t = { cos: lookup("cos", table.cos), sin: lookup("sin", table.sin) };
      } else {
        const frequencies = inverseFrequencies(base, config.ropeFreqScale, hd).map((f, i) =>
          ropeFactors ? Math.fround(f / ropeFactors[i]!) : f,
        );
        const positions = g.op("Unsqueeze", [g.op("Cast", [positionIds], { to: 1 }), g.constInt64([-1])]); // [B,S,1]
        const freqs = g.op("Mul", [positions, g.constFloat(frequencies, [hd / 2])]); // [B,S,hd/2]
        t = { cos: toHeads(mscale(g.op("Cos", [freqs]))), sin: toHeads(mscale(g.op("Sin", [freqs]))) };
      }
      ropeTables.set(base, t);
    }
    return t;
  };
  /** RotaryEmbedding's `contextLength × headDim/2` cos and sin caches, the angles {@link ropeFor} computes. */
  const ropeCaches = new Map<number, { cos: string; sin: string }>();
  const ropeCacheFor = (base: number) => {
    let t = ropeCaches.get(base);
    if (!t) {
      const table =
        numerics.rope === "ggml-table"
          ? ggmlRopeTable(base, config.ropeFreqScale, hd, config.contextLength, ropeFactors, config.ropeAttnFactor)
          : trigRopeTable(base, config.ropeFreqScale, hd, config.contextLength, ropeFactors, config.ropeAttnFactor);
      const shape = [config.contextLength, hd / 2];
      t = {
        cos: g.initializer(`rope_cos_cache_${base}`, "float32", shape, table.cos),
        sin: g.initializer(`rope_sin_cache_${base}`, "float32", shape, table.sin),
      };
      ropeCaches.set(base, t);
    }
    return t;
  };
  /** NEOX RoPE of x [B, heads, S, hd] at each row's position ids. */
  const rope = (x: string, base: number): string => {
    if (contrib) {
      const cache = ropeCacheFor(base);
      return g.op("RotaryEmbedding", [x, positionIds, cache.cos, cache.sin], { interleaved: 0 }, { domain: MS_DOMAIN });
    }
    const { cos, sin } = ropeFor(base);
    const [x1, x2] = g.node("Split", [x, g.constInt64([hd / 2, hd / 2])], { axis: -1 }, { outputCount: 2 });
    const a = g.op("Sub", [g.op("Mul", [x1!, cos]), g.op("Mul", [x2!, sin])]);
    const b = g.op("Add", [g.op("Mul", [x2!, cos]), g.op("Mul", [x1!, sin])]);
    return g.op("Concat", [a, b], { axis: -1 });
  };

  // Query i (of S) sits at index P + i of the total sequence T = P + S; key j is visible when
  // j <= P + i, the mask says it is a real token, and (sliding layers) P + i - j < window.
  const total = g.op("Gather", [g.op("Shape", [attentionMask]), g.constInt64([1], [])], { axis: 0 });
  const seq = g.op("Gather", [g.op("Shape", [inputIds]), g.constInt64([1], [])], { axis: 0 });
  const past = g.op("Sub", [total, seq]);
  const queryIndex = g.op("Unsqueeze", [g.op("Range", [past, total, g.constInt64([1], [])]), g.constInt64([1])]); // [S,1]
  const keyIndex = g.op("Unsqueeze", [g.op("Range", [g.constInt64([0], []), total, g.constInt64([1], [])]), g.constInt64([0])]); // [1,T]
  const causal = g.op("LessOrEqual", [keyIndex, queryIndex]); // [S,T]
  const realKey = g.op("Unsqueeze", [g.op("Cast", [attentionMask], { to: 9 }), g.constInt64([1, 2])]); // [B,1,1,T]
  const masks = new Map<number, string>();
  const maskFor = (window: number) => {
    let m = masks.get(window);
    if (!m) {
      let visible = causal;
      if (window > 0) visible = g.op("And", [visible, g.op("Less", [g.op("Sub", [queryIndex, keyIndex]), g.constInt64([window], [])])]);
      m = g.op(
        "Where",
        [g.op("And", [visible, realKey]), g.constFloat([0], []), g.constFloat([MASKED], [])],
        {},
        { base: `attn_mask_w${window}` },
      ); // [B,1,S,T]
      masks.set(window, m);
    }
    return m;
  };

  const group = nh / nkv;
  /** Q, K, V and softmax probabilities as the attention matmuls see them (fp16 in llama.cpp's KV cache). */
  const attentionOperand = (x: string): string => (numerics.attentionOperands === "f16" ? roundToF16(g, x) : x);
  const shapeHeads = (heads: number) => g.constInt64([0, 0, heads, hd]);
  const activation = (x: string): string => {
    if (facts.activation === "silu") return g.op("Mul", [x, g.op("Sigmoid", [x])]);
    if (numerics.gelu === "f16-table") return geluF16Table(g, x);
    // ggml_gelu: 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²)))
    const x2 = g.op("Mul", [x, x]);
    const inner = g.op("Mul", [
      g.op("Mul", [x, g.constFloat([0.7978845608028654], [])]),
      g.op("Add", [g.constFloat([1], []), g.op("Mul", [x2, g.constFloat([0.044715], [])])]),
    ]);
    return g.op("Mul", [g.op("Mul", [x, g.constFloat([0.5], [])]), g.op("Add", [g.constFloat([1], []), g.op("Tanh", [inner])])]);
  };

  /** Granite's residual multiplier on a block's attention or MLP output (no-op at 1). */
  const residualScaled = (x: string): string =>
    config.residualScale === 1 ? x : g.op("Mul", [x, g.constFloat([config.residualScale], [])]);

  // ---- blocks
  for (let il = 0; il < L; il++) {
    if (options.signal?.aborted) throw options.signal.reason ?? new Error("aborted");
    const p = `blk.${il}.`;
    const residual = hidden;
    const normed = facts.preNorms ? await rmsNorm(hidden, `${p}attn_norm.weight`, `attn_norm_${il}`) : hidden;

    const whole = (count: number) => ({ start: 0, count, total: count });
    const qkvParts: Projection[] = weights.has(`${p}attn_qkv.weight`)
      ? // One fused tensor: q rows, then k, then v (llama.cpp's build_qkv views of wqkv).
        (() => {
          const total = (nh + 2 * nkv) * hd;
          const fused = `${p}attn_qkv.weight`;
          return [
            { weightName: fused, rows: { start: 0, count: nh * hd, total }, rowOrder: unpermuteRows(nh), sliceName: ".q" },
            { weightName: fused, rows: { start: nh * hd, count: nkv * hd, total }, rowOrder: unpermuteRows(nkv), sliceName: ".k" },
            { weightName: fused, rows: { start: (nh + nkv) * hd, count: nkv * hd, total }, sliceName: ".v" },
          ];
        })()
      : [
          { weightName: `${p}attn_q.weight`, rows: whole(nh * hd), rowOrder: unpermuteRows(nh) },
          { weightName: `${p}attn_k.weight`, rows: whole(nkv * hd), rowOrder: unpermuteRows(nkv) },
          { weightName: `${p}attn_v.weight`, rows: whole(nkv * hd) },
        ];
    const [qProjected, kProjected, vFlat] = (await linearGroup(normed, qkvParts, H, `${p}attn_qkv_stacked`)) as [string, string, string];
    let qFlat = qProjected;
    let kFlat = kProjected;
    if (facts.qkNorm === "whole") {
      qFlat = await rmsNorm(qFlat, `${p}attn_q_norm.weight`, `q_norm_${il}`);
      kFlat = await rmsNorm(kFlat, `${p}attn_k_norm.weight`, `k_norm_${il}`);
    }
    const base = config.ropeBaseByLayer[il]!;
    let q = g.op("Reshape", [qFlat, shapeHeads(nh)]); // [B,S,nh,hd]
    let k = g.op("Reshape", [kFlat, shapeHeads(nkv)]);
    const v0 = g.op("Reshape", [vFlat, shapeHeads(nkv)]);
    if (facts.qkNorm === "per-head") {
      q = await rmsNorm(q, `${p}attn_q_norm.weight`, `q_norm_${il}`);
      k = await rmsNorm(k, `${p}attn_k_norm.weight`, `k_norm_${il}`);
    }
    const toBnsh = (x: string) => g.op("Transpose", [x], { perm: [0, 2, 1, 3] });
    q = attentionOperand(rope(toBnsh(q), base));
    k = attentionOperand(rope(toBnsh(k), base));
    const presentK = g.op("Concat", [pastKeys[il]!, k], { axis: 2 }, { output: GRAPH_IO.presentKey(il) });
    const presentV = g.op("Concat", [pastValues[il]!, attentionOperand(toBnsh(v0))], { axis: 2 }, { output: GRAPH_IO.presentValue(il) });
    g.output(presentK, "float32", ["batch_size", nkv, "total_sequence_length", hd]);
    g.output(presentV, "float32", ["batch_size", nkv, "total_sequence_length", hd]);

    // Query heads h = kv·group + j share kv head `kv` (ggml_mul_mat broadcast, HF repeat_kv):
    // fold the group into the sequence axis instead of repeating K and V.
    const qGrouped = g.op("Reshape", [q, g.constInt64([0, nkv, -1, hd])]); // [B,nkv,group·S,hd]
    const scores = g.op("MatMul", [qGrouped, g.op("Transpose", [presentK], { perm: [0, 1, 3, 2] })]); // [B,nkv,group·S,T]
    const scaled = g.op("Mul", [g.op("Reshape", [scores, g.constInt64([0, nh, -1, 0])]), g.constFloat([config.attentionScale], [])]); // [B,nh,S,T]
    const probs = attentionOperand(g.op("Softmax", [g.op("Add", [scaled, maskFor(config.slidingWindowByLayer[il]!)])], { axis: -1 }));
    const context = g.op("MatMul", [g.op("Reshape", [probs, g.constInt64([0, nkv, -1, 0])]), presentV]); // [B,nkv,group·S,hd]
    const merged = g.op("Reshape", [
      g.op("Transpose", [g.op("Reshape", [context, g.constInt64([0, nh, -1, hd])])], { perm: [0, 2, 1, 3] }),
      g.constInt64([0, 0, nh * hd]),
    ]);
    let attnOut = await linear(merged, `${p}attn_output.weight`, H, nh * hd);
    if (facts.postNorms) attnOut = await rmsNorm(attnOut, `${p}${facts.postNorms.attention}.weight`, `attn_post_norm_${il}`);
    let ffnInput: string;
    let ffnNormed: string;
    if (contrib && facts.preNorms) {
      // The residual sum and its norm in one kernel (output 3 is the sum, input + skip).
      ffnNormed = g.fresh(`ffn_norm_${il}`);
      ffnInput = g.fresh(`ffn_inp_${il}`);
      g.node(
        "SkipSimplifiedLayerNormalization",
        [residualScaled(attnOut), residual, await normWeight(`${p}ffn_norm.weight`)],
        { epsilon: { float: config.rmsEps } },
        { outputs: [ffnNormed, "", "", ffnInput], domain: MS_DOMAIN },
      );
    } else {
      ffnInput = g.op("Add", [residualScaled(attnOut), residual]);
      ffnNormed = facts.preNorms ? await rmsNorm(ffnInput, `${p}ffn_norm.weight`, `ffn_norm_${il}`) : ffnInput;
    }
    const nff = config.intermediateSize;
    let gate: string;
    let up: string;
    if (facts.gateUp === "separate") {
      [gate, up] = (await linearGroup(
        ffnNormed,
        [
          { weightName: `${p}ffn_gate.weight`, rows: whole(nff) },
          { weightName: `${p}ffn_up.weight`, rows: whole(nff) },
        ],
        H,
        `${p}ffn_gate_up_stacked`,
      )) as [string, string];
    } else {
      const gateFirst = facts.gateUp === "fused-gate-first";
      const half = (first: boolean) => ({ start: first ? 0 : nff, count: nff, total: 2 * nff });
      [gate, up] = (await linearGroup(
        ffnNormed,
        [
          { weightName: `${p}ffn_up.weight`, rows: half(gateFirst), sliceName: ".gate" },
          { weightName: `${p}ffn_up.weight`, rows: half(!gateFirst), sliceName: ".up" },
        ],
        H,
        `${p}ffn_gate_up_stacked`,
      )) as [string, string];
    }
    let ffnOut = await linear(g.op("Mul", [activation(gate), up]), `${p}ffn_down.weight`, H, nff);
    if (facts.postNorms) ffnOut = await rmsNorm(ffnOut, `${p}${facts.postNorms.ffn}.weight`, `ffn_post_norm_${il}`);
    const blockOut = g.op("Add", [residualScaled(ffnOut), ffnInput]);

    // Steering: each sequence's row il ([B,1,H], broadcast over its tokens), added to the block
    // output (llama.cpp's build_cvec position).
    hidden = steering
      ? g.op("Add", [blockOut, g.op("Gather", [steering, g.constInt64([il], [1])], { axis: 1 })], {}, { base: `l_out_${il}` })
      : blockOut;
    g.output(g.op("Identity", [hidden], {}, { output: GRAPH_IO.hiddenState(il) }), "float32", ["batch_size", "sequence_length", H]);
    options.onLayer?.(il + 1, L);
  }

  // ---- head
  const finalNormed = await rmsNorm(hidden, "output_norm.weight", "result_norm");
  const headName = config.tiedEmbeddings ? "token_embd.weight" : "output.weight";
  let logits: string;
  const headMode = options.q4Head ?? "q8";
  if (q4 && H % Q4_BLOCK_SIZE === 0 && headMode === "q4") {
    const headWeights = config.tiedEmbeddings ? embedding : await weights.read(headName);
    logits = matMulNBits(finalNormed, "lm_head", headWeights, config.vocabSize, H);
  } else if (q4 && H % Q4_BLOCK_SIZE === 0 && headMode === "q8") {
    const headWeights = config.tiedEmbeddings ? embedding : await weights.read(headName);
    const packed = quantizeQ8(headWeights, config.vocabSize, H);
    logits = g.op(
      "MatMulNBits",
      [
        finalNormed,
        g.initializer("lm_head.q8", "uint8", [config.vocabSize, packed.kBlocks, Q4_BLOCK_SIZE], packed.codes),
        g.initializer("lm_head.scales", "float32", [config.vocabSize * packed.kBlocks], packed.scales),
        g.initializer("lm_head.zero_points", "uint8", [packed.zeroPoints.length], packed.zeroPoints),
      ],
      { K: H, N: config.vocabSize, bits: 8, block_size: Q4_BLOCK_SIZE, accuracy_level: accuracyLevel },
      { domain: MS_DOMAIN },
    );
  } else {
    // Gemm with transB reads the [vocab, hidden] table as stored, so a tied head shares the embedding.
    const head = config.tiedEmbeddings
      ? embeddingName
      : g.initializer(headName, "float32", [config.vocabSize, H], await weights.read(headName));
    const input = matmulInput(finalNormed, headName, H);
    const flat = g.op("Reshape", [input.value, g.constInt64([-1, H])]);
    const gemm = g.op("Gemm", [flat, head], { transB: 1 });
    const outShape = g.op(
      "Concat",
      [g.op("Slice", [g.op("Shape", [finalNormed]), g.constInt64([0]), g.constInt64([2])]), g.constInt64([config.vocabSize])],
      { axis: 0 },
    );
    logits = await withBlockSums(
      g.op("Reshape", [gemm, outShape]),
      input,
      headName,
      { start: 0, count: config.vocabSize, total: config.vocabSize },
      H,
    );
  }
  if (config.logitDivisor !== 1) logits = g.op("Mul", [logits, g.constFloat([1 / config.logitDivisor], [])]);
  if (config.finalLogitSoftcap > 0) {
    const cap = config.finalLogitSoftcap;
    logits = g.op("Mul", [g.op("Tanh", [g.op("Mul", [logits, g.constFloat([1 / cap], [])])]), g.constFloat([cap], [])]);
  }
  g.op("Identity", [logits], {}, { output: GRAPH_IO.logits });
  g.output(GRAPH_IO.logits, "float32", ["batch_size", "sequence_length", config.vocabSize]);
}

/** Reorders the rows of a `rows × cols` GGML-order matrix. */
type RowOrder = (w: Float32Array, cols: number) => Float32Array;

/**
 * GELU (tanh form) as ggml's CPU backend evaluates it with GGML_GELU_FP16: the fp32 formula, in
 * ggml_gelu_f32's operation order, at the fp16-rounded input, rounded to fp16 (its lookup table);
 * 0 for x ≤ −10 and x for x ≥ 10.
 */
function geluF16Table(g: GraphBuilder, x: string): string {
  const xh = roundToF16(g, x);
  const c = (v: number) => g.constFloat([v], []);
  // 0.5f*x*(1.0f + tanhf(SQRT_2_OVER_PI*x*(1.0f + GELU_COEF_A*x*x)))
  const inner = g.op("Mul", [
    g.op("Mul", [c(0.7978845608028654), xh]),
    g.op("Add", [c(1), g.op("Mul", [g.op("Mul", [c(0.044715), xh]), xh])]),
  ]);
  const table = roundToF16(g, g.op("Mul", [g.op("Mul", [c(0.5), xh]), g.op("Add", [c(1), g.op("Tanh", [inner])])]));
  const aboveRange = g.op("Where", [g.op("GreaterOrEqual", [x, c(10)]), x, table]);
  return g.op("Where", [g.op("LessOrEqual", [x, c(-10)]), c(0), aboveRange]);
}

/**
 * ggml's RoPE frequencies: θ_i = pos · freq_scale · base^(−2i/d), with base^(−2i/d) built by
 * repeated float32 multiplication as ggml_rope_cache_init does.
 */
function inverseFrequencies(base: number, freqScale: number, headDim: number): number[] {
  const step = Math.fround(base ** (-2 / headDim));
  const out: number[] = [];
  let theta = Math.fround(freqScale);
  for (let i = 0; i < headDim / 2; i++) {
    out.push(theta);
    theta = Math.fround(theta * step);
  }
  return out;
}

/**
 * cos and sin of every position's RoPE angles exactly as ggml_rope_cache_init computes them:
 * θ starts at the position and is multiplied by powf(base, −2/d) in float32 from pair to pair,
 * then cosf/sinf(freq_scale·θ). `positions × headDim/2` each.
 */
function ggmlRopeTable(
  base: number,
  freqScale: number,
  headDim: number,
  positions: number,
  factors: Float32Array | null,
  attnFactor: number,
): { cos: Float32Array; sin: Float32Array } {
  const f = Math.fround;
  const thetaScale = f(base ** f(-2 / headDim));
  const half = headDim / 2;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) {
    let theta = f(p);
    for (let i = 0; i < half; i++) {
      // ggml_rope_cache_init: theta_extrap = theta / freq_factor, then freq_scale · theta_extrap; mscale on cos and sin.
      const angle = f(f(freqScale) * (factors ? f(theta / factors[i]!) : theta));
      cos[p * half + i] = f(Math.cos(angle) * attnFactor);
      sin[p * half + i] = f(Math.sin(angle) * attnFactor);
      theta = f(theta * thetaScale);
    }
  }
  return { cos, sin };
}

/**
 * The angles of the `"onnx-trig"` graph as a table: float32 position × float32 inverse frequency,
 * cos and sin of that float32 angle, times the attention factor in float32 (what Cast, Mul,
 * Cos/Sin and the mscale Mul compute), for every position.
 */
function trigRopeTable(
  base: number,
  freqScale: number,
  headDim: number,
  positions: number,
  factors: Float32Array | null,
  attnFactor: number,
): { cos: Float32Array; sin: Float32Array } {
  const f = Math.fround;
  const frequencies = inverseFrequencies(base, freqScale, headDim).map((q, i) => (factors ? f(q / factors[i]!) : q));
  const half = headDim / 2;
  const factor = f(attnFactor);
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = f(f(p) * frequencies[i]!);
      cos[p * half + i] = factor === 1 ? f(Math.cos(angle)) : f(f(Math.cos(angle)) * factor);
      sin[p * half + i] = factor === 1 ? f(Math.sin(angle)) : f(f(Math.sin(angle)) * factor);
    }
  }
  return { cos, sin };
}

/** [rows, cols] → [cols, rows]. */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = w[src + c]!;
  }
  return out;
}

/**
 * Undo convert_hf_to_gguf's `permute` of q/k rows: inside each head, GGUF row 2i + half holds HF
 * row half·(d/2) + i. After this, NEOX (halves) RoPE computes what llama.cpp's NORM RoPE does on the
 * GGUF layout.
 */
function interleavedToHalves(w: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const halfDim = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let half = 0; half < 2; half++) {
      for (let i = 0; i < halfDim; i++) {
        const src = (h * headDim + 2 * i + half) * cols;
        const dst = (h * headDim + half * halfDim + i) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}
