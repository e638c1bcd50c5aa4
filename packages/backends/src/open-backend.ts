import { EmosteerError, type SteeringBackend } from "@emosteer/core";

/** The engines, by the name users pick them with (`--backend`, `--backends`); each is its `SteeringBackend.name`. */
export const BACKEND_NAMES = ["llama.cpp", "onnx", "transformers.js"] as const;

export type BackendName = (typeof BACKEND_NAMES)[number];

export interface OpenBackendOptions {
  /** The GGUF model file. Engines that run ONNX export it into the cache first (reused when already there). */
  readonly modelPath: string;
  /** Loading and export steps, as short human-readable lines. */
  readonly onProgress?: (message: string) => void;
  readonly signal?: AbortSignal;
  /** CPU threads for llama.cpp and onnxruntime. transformers.js picks its own (its options do not expose them). */
  readonly threads?: number;
  /** Chat template for models whose file has none (a registry model's `spec.chatTemplate`). */
  readonly chatTemplate?: string;
  /** Tokens one sequence may hold, prompt + generation, on every engine. Defaults to min(4096, trained context). */
  readonly contextSize?: number;
}

/** A backend name that is not in {@link BACKEND_NAMES}. */
export class UnknownBackendError extends EmosteerError {
  constructor(
    readonly backend: string,
    readonly known: readonly string[] = BACKEND_NAMES,
  ) {
    super(`Unknown backend "${backend}": choose one of ${known.join(", ")}.`);
  }
}

export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

type Opener = (options: OpenBackendOptions) => Promise<SteeringBackend>;

const percent = (fraction: number) => `${Math.round(fraction * 100)}%`;

/**
 * Each entry imports its engine lazily, so an engine that fails to load (a missing native addon,
 * say) only fails its own name, and callers pay only for the engine they open.
 */
const OPENERS: Readonly<Record<BackendName, Opener>> = {
  "llama.cpp": async ({ modelPath, onProgress, signal, threads, chatTemplate, contextSize }) => {
    const { createLlamaCppBackend } = await import("@emosteer/backend-llamacpp");
    return createLlamaCppBackend({
      modelPath,
      onProgress: (p) => onProgress?.(`${p.stage} ${percent(p.fraction)}`),
      ...(signal ? { signal } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(chatTemplate ? { chatTemplate } : {}),
      ...(contextSize !== undefined ? { contextSize } : {}),
    });
  },
  onnx: async ({ modelPath, onProgress, signal, threads, chatTemplate, contextSize }) => {
    const { createOnnxBackend } = await import("@emosteer/backend-onnx");
    return createOnnxBackend({
      modelPath,
      onProgress: (p) => onProgress?.(`export ${p.stage} ${p.done}/${p.total}`),
      ...(signal ? { signal } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(chatTemplate ? { chatTemplate } : {}),
      ...(contextSize !== undefined ? { contextSize } : {}),
    });
  },
  "transformers.js": async ({ modelPath, onProgress, signal, chatTemplate, contextSize }) => {
    // Not through backend-onnx: transformers.js reads the exported folder itself.
    const { exportGgufToOnnx } = await import("@emosteer/onnx-export");
    const { createTransformersBackend } = await import("@emosteer/backend-transformers");
    const exported = await exportGgufToOnnx({
      ggufPath: modelPath,
      onProgress: (p) => onProgress?.(`export ${p.stage} ${p.done}/${p.total}`),
      ...(signal ? { signal } : {}),
    });
    return createTransformersBackend({
      modelDir: exported.modelDir,
      ...(chatTemplate ? { chatTemplate } : {}),
      ...(contextSize !== undefined ? { contextSize } : {}),
      ...(signal ? { signal } : {}),
    });
  },
};

/**
 * Opens the engine called `name` on a GGUF model file.
 *
 * @example
 * await using backend = await openBackend("onnx", { modelPath: (await ensureModel("smollm2-135m-instruct")).path });
 */
export async function openBackend(name: string, options: OpenBackendOptions): Promise<SteeringBackend> {
  if (!isBackendName(name)) throw new UnknownBackendError(name);
  return OPENERS[name](options);
}
