import type { SteeringBackend } from "@emosteer/core";
import type { LocalModel } from "@emosteer/models";

export interface BackendLoadOptions {
  readonly onProgress?: (message: string) => void;
  readonly signal?: AbortSignal;
}

/** Opens a backend on a local GGUF (engines that need ONNX export it into the cache first). */
export type BackendFactory = (model: LocalModel, options: BackendLoadOptions) => Promise<SteeringBackend>;

const percent = (fraction: number) => `${Math.round(fraction * 100)}%`;

/**
 * The engines the bench knows, by the name `--backends` takes. Each entry imports its package
 * lazily, so a broken engine only skips its own cells.
 */
export const BACKENDS: Readonly<Record<string, BackendFactory>> = {
  "llama.cpp": async (model, { onProgress, signal }) => {
    const { createLlamaCppBackend } = await import("@emosteer/backend-llamacpp");
    return createLlamaCppBackend({
      modelPath: model.path,
      onProgress: (p) => onProgress?.(`${p.stage} ${percent(p.fraction)}`),
      ...(signal ? { signal } : {}),
    });
  },
  onnx: async (model, { onProgress, signal }) => {
    const { createOnnxBackend } = await import("@emosteer/backend-onnx");
    return createOnnxBackend({
      modelPath: model.path,
      onProgress: (p) => onProgress?.(`export ${p.stage} ${p.done}/${p.total}`),
      ...(signal ? { signal } : {}),
    });
  },
  "transformers.js": async (model, { onProgress, signal }) => {
    const { exportGgufToOnnx } = await import("@emosteer/onnx-export");
    const { createTransformersBackend } = await import("@emosteer/backend-transformers");
    const exported = await exportGgufToOnnx({ ggufPath: model.path, onProgress: (p) => onProgress?.(`export ${p.stage} ${p.done}/${p.total}`), ...(signal ? { signal } : {}) });
    return createTransformersBackend({ modelDir: exported.modelDir, ...(signal ? { signal } : {}) });
  },
};

export const BACKEND_NAMES = Object.keys(BACKENDS);
