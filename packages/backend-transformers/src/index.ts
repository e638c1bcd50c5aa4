export { createTransformersBackend } from "./transformers-backend.js";
export type { HubModelOptions, LocalModelOptions, Precision, TransformersBackendOptions } from "./transformers-backend.js";
