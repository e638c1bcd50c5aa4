// @emosteer/models depends on @emosteer/core, so core cannot list it as a (dev) dependency without
// a package cycle (turbo refuses to build one). Core's tests reach its sources directly instead.
export { ensureModel } from "../../../models/src/index.js";

import type { ModelInfo } from "../../src/index.js";

/** The default model (SmolLM2-135M-Instruct) as its GGUF describes it, for vector-file tests. */
export const SMOLLM2_MODEL_INFO: ModelInfo = {
  architecture: "llama",
  name: "SmolLM2 135M Instruct",
  layerCount: 30,
  hiddenSize: 576,
  vocabSize: 49152,
  contextLength: 8192,
  fingerprint: "b179c9523d0e6a0f",
};
