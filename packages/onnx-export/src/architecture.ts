/**
 * Per-architecture facts: everything that differs between the decoder families the exporter
 * supports lives in this one table, so the graph builder has no architecture branches. Each fact
 * mirrors what llama.cpp does for the same GGUF (src/models/<arch>.cpp, llama-model.cpp).
 *
 * Facts that depend on the file rather than the family are read from the GGUF in
 * decoder-config.ts, the way llama.cpp reads them: fused `attn_qkv` (split into q, k, v rows),
 * q/k/v biases, RoPE frequency factors (`rope_freqs`, or Phi-3's `rope_factors_short`) and the
 * RoPE attention factor.
 */
export interface ArchitectureFacts {
  /** `model_type` written to config.json (what transformers.js keys its model classes on). */
  readonly modelType: string;
  /** HF class name for config.json `architectures`. */
  readonly hfClass: string;
  /**
   * How q/k rows are laid out inside each head in the GGUF. `"interleaved"`: convert_hf_to_gguf
   * permuted them for llama.cpp's NORM rope (pairs (2i, 2i+1)); the exporter un-permutes them so the
   * graph can always rotate halves (NEOX: pairs (i, i + d/2)), which is the same function.
   */
  readonly qkRowLayout: "interleaved" | "halves";
  /** Token embeddings are multiplied by √hidden (Gemma). */
  readonly scaleEmbeddingBySqrtHidden: boolean;
  /**
   * RMS norms before attention and before the MLP (`attn_norm`, `ffn_norm`). OLMo 2 has none:
   * its blocks normalise the outputs instead (`postNorms`).
   */
  readonly preNorms: boolean;
  /**
   * RMS norm of q and k before RoPE (`attn_q_norm`, `attn_k_norm`): `"per-head"` over each head's
   * `head_dim` values (Gemma 3), `"whole"` over the full projection of all heads (OLMo 2), or none.
   */
  readonly qkNorm: "per-head" | "whole" | null;
  /**
   * Extra RMS norms on the attention and FFN outputs before they join the residual (Gemma's
   * "sandwich" norms, OLMo 2's post-norms); values are the GGUF tensor names inside a block.
   */
  readonly postNorms: { readonly attention: string; readonly ffn: string } | null;
  /**
   * The MLP's gate and up projections: `"separate"` (`ffn_gate`, `ffn_up`), or one fused `ffn_up`
   * of 2·n_ff rows whose halves are gate then up (`"fused-gate-first"`: Phi-3, llama.cpp's
   * `ggml_swiglu` of the halves) or up then gate (`"fused-up-first"`).
   */
  readonly gateUp: "separate" | "fused-gate-first" | "fused-up-first";
  /** Gate activation of the gated MLP: `silu` (SwiGLU) or `gelu-tanh` (GeGLU, tanh approximation as ggml_gelu). */
  readonly activation: "silu" | "gelu-tanh";
  /**
   * Sliding-window attention on "local" layers, when the GGUF declares a window: every layer whose
   * index `il % period < period - 1` is local (llama_hparams::set_swa_pattern), using the local RoPE
   * base (`rope.freq_base_swa`, default 10000). Null: every layer is global.
   */
  readonly slidingWindow: { readonly defaultPeriod: number; readonly defaultLocalRopeBase: number } | null;
  /** Attention logit scale given the head size (llama.cpp: 1/√head_dim unless `multiplierKeys.attention` says otherwise). */
  readonly attentionScale: (headDim: number) => number;
  /** The GGUF key for tanh soft-capping of the final logits, if the family has it. */
  readonly finalLogitSoftcapKey: string | null;
  /**
   * Granite's multipliers, as GGUF key suffixes (`<arch>.<suffix>`): token embeddings × `embedding`,
   * each block's attention and MLP outputs × `residual` before they join the residual stream,
   * attention logits × `attention` (in place of 1/√head_dim), final logits ÷ `logitDivisor`.
   * An absent key means 1 (or 1/√head_dim), as in llama.cpp. Null: the family has none.
   */
  readonly multiplierKeys: {
    readonly embedding: string;
    readonly residual: string;
    readonly attention: string;
    readonly logitDivisor: string;
  } | null;
}

const inverseSqrt = (headDim: number) => 1 / Math.sqrt(headDim);

/** What most decoders share (llama's graph); entries below state how they differ. */
const LLAMA_LIKE: ArchitectureFacts = {
  modelType: "llama",
  hfClass: "LlamaForCausalLM",
  qkRowLayout: "interleaved",
  scaleEmbeddingBySqrtHidden: false,
  preNorms: true,
  qkNorm: null,
  postNorms: null,
  gateUp: "separate",
  activation: "silu",
  slidingWindow: null,
  attentionScale: inverseSqrt,
  finalLogitSoftcapKey: null,
  multiplierKeys: null,
};

export const ARCHITECTURES: Readonly<Record<string, ArchitectureFacts>> = {
  llama: LLAMA_LIKE,
  // Qwen2's q/k/v biases are read from the file (any `<name>.bias` is added).
  qwen2: { ...LLAMA_LIKE, modelType: "qwen2", hfClass: "Qwen2ForCausalLM", qkRowLayout: "halves" },
  gemma3: {
    ...LLAMA_LIKE,
    modelType: "gemma3_text",
    hfClass: "Gemma3ForCausalLM",
    qkRowLayout: "halves",
    scaleEmbeddingBySqrtHidden: true,
    qkNorm: "per-head",
    postNorms: { attention: "post_attention_norm", ffn: "post_ffw_norm" },
    activation: "gelu-tanh",
    slidingWindow: { defaultPeriod: 6, defaultLocalRopeBase: 10_000 },
    // llama.cpp uses 1/sqrt(n_embd/n_head) only for the 27B; the sizes we export use head_dim.
    finalLogitSoftcapKey: "final_logit_softcapping",
  },
  // src/models/phi3.cpp: fused attn_qkv (split by the loader into q, k, v rows), ffn_up holding
  // gate and up (ggml_swiglu), NEOX RoPE with the short frequency factors at contexts up to the
  // original length.
  phi3: { ...LLAMA_LIKE, modelType: "phi3", hfClass: "Phi3ForCausalLM", qkRowLayout: "halves", gateUp: "fused-gate-first" },
  // src/models/olmo2.cpp: no pre-norms; q and k normalised over all heads before RoPE; the
  // attention and MLP outputs normalised before they join the residual. NEOX RoPE.
  olmo2: {
    ...LLAMA_LIKE,
    modelType: "olmo2",
    hfClass: "Olmo2ForCausalLM",
    qkRowLayout: "halves",
    preNorms: false,
    qkNorm: "whole",
    postNorms: { attention: "post_attention_norm", ffn: "post_ffw_norm" },
  },
  // src/models/granite.cpp: llama's block with four multipliers. NORM RoPE (rows permuted as llama's).
  granite: {
    ...LLAMA_LIKE,
    modelType: "granite",
    hfClass: "GraniteForCausalLM",
    multiplierKeys: { embedding: "embedding_scale", residual: "residual_scale", attention: "attention.scale", logitDivisor: "logit_scale" },
  },
};

export const SUPPORTED_ARCHITECTURES = Object.keys(ARCHITECTURES);
