/**
 * Per-architecture facts: everything that differs between the decoder families the exporter
 * supports lives in this one table, so the graph builder has no architecture branches. Each fact
 * mirrors what llama.cpp does for the same GGUF (src/models/<arch>.cpp, llama-model.cpp).
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
  /** RMS norm over each head of q and k before RoPE (`attn_q_norm`, `attn_k_norm`). */
  readonly qkNorm: boolean;
  /**
   * Extra RMS norms on the attention and FFN outputs before they join the residual (Gemma's
   * "sandwich" norms); values are the GGUF tensor names inside a block.
   */
  readonly postNorms: { readonly attention: string; readonly ffn: string } | null;
  /** Gate activation of the gated MLP: `silu` (SwiGLU) or `gelu-tanh` (GeGLU, tanh approximation as ggml_gelu). */
  readonly activation: "silu" | "gelu-tanh";
  /**
   * Sliding-window attention on "local" layers, when the GGUF declares a window: every layer whose
   * index `il % period < period - 1` is local (llama_hparams::set_swa_pattern), using the local RoPE
   * base (`rope.freq_base_swa`, default 10000). Null: every layer is global.
   */
  readonly slidingWindow: { readonly defaultPeriod: number; readonly defaultLocalRopeBase: number } | null;
  /** Attention logit scale given the head size (llama.cpp: 1/√head_dim for all three). */
  readonly attentionScale: (headDim: number) => number;
  /** The GGUF key for tanh soft-capping of the final logits, if the family has it. */
  readonly finalLogitSoftcapKey: string | null;
}

const inverseSqrt = (headDim: number) => 1 / Math.sqrt(headDim);

export const ARCHITECTURES: Readonly<Record<string, ArchitectureFacts>> = {
  llama: {
    modelType: "llama",
    hfClass: "LlamaForCausalLM",
    qkRowLayout: "interleaved",
    scaleEmbeddingBySqrtHidden: false,
    qkNorm: false,
    postNorms: null,
    activation: "silu",
    slidingWindow: null,
    attentionScale: inverseSqrt,
    finalLogitSoftcapKey: null,
  },
  qwen2: {
    modelType: "qwen2",
    hfClass: "Qwen2ForCausalLM",
    qkRowLayout: "halves",
    scaleEmbeddingBySqrtHidden: false,
    qkNorm: false,
    postNorms: null,
    activation: "silu",
    slidingWindow: null,
    attentionScale: inverseSqrt,
    finalLogitSoftcapKey: null,
  },
  gemma3: {
    modelType: "gemma3_text",
    hfClass: "Gemma3ForCausalLM",
    qkRowLayout: "halves",
    scaleEmbeddingBySqrtHidden: true,
    qkNorm: true,
    postNorms: { attention: "post_attention_norm", ffn: "post_ffw_norm" },
    activation: "gelu-tanh",
    slidingWindow: { defaultPeriod: 6, defaultLocalRopeBase: 10_000 },
    // llama.cpp uses 1/sqrt(n_embd/n_head) only for the 27B; the sizes we export use head_dim.
    attentionScale: inverseSqrt,
    finalLogitSoftcapKey: "final_logit_softcapping",
  },
};

export const SUPPORTED_ARCHITECTURES = Object.keys(ARCHITECTURES);
