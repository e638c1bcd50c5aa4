// Types of build-addon.mjs (a plain script, so it runs at install before anything is compiled).

export const PATCHED_METHODS: readonly string[];
export const BUILD_ADDON_COMMAND: string;
export function cacheRoot(): string;
/** The GPU backends node-llama-cpp's source build knows. */
export const GPU_BACKENDS: readonly ("vulkan" | "cuda" | "metal")[];
/** The GPU backend of a build: `value` (a --gpu flag), else EMOSTEER_LLAMA_GPU, else false (CPU); throws on an unknown name. */
export function gpuChoice(value?: string, env?: NodeJS.ProcessEnv): "vulkan" | "cuda" | "metal" | false;

export interface AddonLocation {
  /** The node-llama-cpp this package depends on: read only, the source of the private copy. */
  source: string;
  version: string;
  /** The build's GPU backend (node-llama-cpp's `gpu`), false for the CPU-only build. */
  gpu: "vulkan" | "cuda" | "metal" | false;
  /** patches/node-llama-cpp@<version>.patch (the addon) and the first 12 hex digits of its sha256. */
  patchFile: string;
  patchHash: string;
  /** The llama.cpp commit node-llama-cpp bundles, its source patch (patches/llama.cpp-<commit>.patch) and 8 hex digits of its sha256. */
  llamaCppCommit: string;
  llamaCppPatchFile: string;
  llamaCppPatchHash: string;
  /** Vulkan builds only: patches/llama.cpp-<commit>-vulkan-headers.patch (older Vulkan headers), hashed into the options hash. */
  vulkanPatchFile: string | null;
  /** `<cache>/llama-addon/<version>-<patch hash>-<llama.cpp patch hash>-<hash of cmake options and GPU backend>` */
  dir: string;
  /** The private, patched node-llama-cpp the backend loads. */
  nodeLlamaCpp: string;
  /** The addon's CMake build tree (llama.cpp's libraries; the tools are built in it too). */
  buildTree: string;
  stamp: string;
  lock: string;
}

export function addonLocation(options?: { gpu?: "vulkan" | "cuda" | "metal" | false }): AddonLocation;
export function readStamp(location?: AddonLocation): Record<string, unknown> | null;
export function withLock<T>(
  lock: string,
  task: () => Promise<T>,
  log?: (message: string) => void,
  finished?: () => T | undefined,
): Promise<T>;
export function ensureAddon(options?: {
  force?: boolean;
  incremental?: boolean;
  gpu?: "vulkan" | "cuda" | "metal" | false;
  log?: (message: string) => void;
}): Promise<AddonLocation>;
/** The NODE_LLAMA_CPP_CMAKE_OPTION_* variables the build runs with: the defaults (no AMX kernels on x86), then the user's. */
export function buildCmakeOptions(env?: NodeJS.ProcessEnv): Record<string, string>;
/** The build's cmake options without the prefix, as node-llama-cpp's `getLlama({ cmakeOptions })` takes them. */
export function llamaCmakeOptions(env?: NodeJS.ProcessEnv): Record<string, string>;
