export { createOnnxBackend } from "./onnx-backend.js";
export type { OnnxBackendOptions, OnnxSteeringBackend } from "./onnx-backend.js";
export type { OnnxGenerationSession } from "./generation-session.js";
