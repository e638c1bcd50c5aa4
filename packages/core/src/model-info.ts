/**
 * What the engines and vector files need to know about a model.
 *
 * Layer convention (shared by every engine and by llama.cpp control-vector files): the model has
 * `layerCount` transformer blocks numbered 0..layerCount-1; "layer k" means the residual stream at
 * the output of block k. Steering adds to that output. Block 0 is never steered (llama.cpp cannot).
 */
export interface ModelInfo {
  /** GGUF `general.architecture`, e.g. `"llama"`, `"qwen2"`, `"gemma3"`. */
  readonly architecture: string;
  /** Human name, e.g. GGUF `general.name`. */
  readonly name: string;
  /** Number of transformer blocks. */
  readonly layerCount: number;
  /** Width of the residual stream (n_embd). */
  readonly hiddenSize: number;
  readonly vocabSize: number;
  /** Trained context length. */
  readonly contextLength: number;
  /**
   * Identifies the weights: the first 16 hex digits of the sha256 of the GGUF file the model came
   * from (an ONNX export of that GGUF carries the same fingerprint).
   */
  readonly fingerprint: string;
  /** The model's own Jinja chat template, when it has one. */
  readonly chatTemplate?: string;
}

/** The part of {@link ModelInfo} an {@link EmotionVector} is bound to. */
export type ModelIdentity = Pick<ModelInfo, "architecture" | "name" | "layerCount" | "hiddenSize" | "fingerprint">;

export function modelIdentity(model: ModelInfo | ModelIdentity): ModelIdentity {
  const { architecture, name, layerCount, hiddenSize, fingerprint } = model;
  return { architecture, name, layerCount, hiddenSize, fingerprint };
}
