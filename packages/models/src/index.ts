export type { ModelSpec, ModelSource, PypiSource, PypiWheelPart, HuggingFaceSource, LocalSource } from "./model-spec.js";
export { MODEL_REGISTRY, DEFAULT_MODEL_ID, findModelSpec, hasOfflineSource, UnknownModelError } from "./registry.js";
export { ensureModel, sha256File, ModelUnavailableError } from "./fetch-model.js";
export { HashMismatchError } from "./errors.js";
export { DEFAULT_HUB_ENDPOINT, HubRequestError, downloadHubFile, hubEndpoint, hubFileUrl } from "./hub-download.js";
export type { HubDownload } from "./hub-download.js";
export type { EnsureModelOptions, FetchProgress, LocalModel } from "./fetch-model.js";
export { defaultCacheDir } from "@emosteer/core/node";
