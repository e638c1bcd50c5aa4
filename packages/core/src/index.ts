export * from "./emotion.js";
export * from "./errors.js";
export * from "./model-info.js";
export * from "./emotion-vector.js";
export * from "./steering-spec.js";
export * from "./steering-backend.js";
