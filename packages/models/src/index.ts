export type { ModelSpec, ModelSource, PypiSource, PypiWheelPart, HuggingFaceSource, LocalSource } from "./model-spec.js";
export { MODEL_REGISTRY, DEFAULT_MODEL_ID, findModelSpec, hasOfflineSource, UnknownModelError } from "./registry.js";
export { ensureModel, sha256File, ModelUnavailableError, HashMismatchError } from "./fetch-model.js";
export type { EnsureModelOptions, FetchProgress, LocalModel } from "./fetch-model.js";
export { defaultCacheDir } from "@emosteer/core/node";
