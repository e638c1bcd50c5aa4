export { createTransformersBackend } from "./transformers-backend.js";
export type {
  HubModelOptions,
  LocalModelOptions,
  Precision,
  SessionThread,
  TransformersBackendOptions,
  TransformersSteeringBackend,
} from "./transformers-backend.js";
