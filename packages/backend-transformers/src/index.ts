export { createTransformersBackend } from "./transformers-backend.js";
export type {
  HubModelOptions,
  LocalModelOptions,
  Precision,
  TransformersBackendOptions,
  TransformersSteeringBackend,
} from "./transformers-backend.js";
