export { createLlamaCppBackend } from "./llama-cpp-backend.js";
export type { LlamaCppBackend, LlamaCppBackendOptions, LlamaCppBackendProgress } from "./llama-cpp-backend.js";
export { NativeAddonMissingError, BUILD_ADDON_COMMAND } from "./native.js";
export { architectureSupport, TESTED_ARCHITECTURES } from "./architectures.js";
export type { ArchitectureSupport } from "./architectures.js";
