import { pathToFileURL } from "node:url";
import { EmosteerError } from "@emosteer/core";
import type { Llama, LlamaModel } from "node-llama-cpp";
// A plain .mjs next to dist/ and src/ alike (one level below the package root), shipped in the package.
import { addonLocation, BUILD_ADDON_COMMAND, ensureAddon, gpuChoice, llamaCmakeOptions, readStamp } from "../scripts/build-addon.mjs";

export { BUILD_ADDON_COMMAND };

/** The patched llama.cpp addon of node-llama-cpp is not built, or an unpatched one was found. */
export class NativeAddonMissingError extends EmosteerError {
  constructor(readonly reason: string) {
    super(
      `The patched llama.cpp addon (control vectors, activation capture) is not available: ${reason}. ` +
        `Build it with \`${BUILD_ADDON_COMMAND}\` (once per machine, about 4 min on 2 cores; needs cmake, a C++ compiler and git).`,
    );
  }
}

/**
 * Methods the emosteer patches add to node-llama-cpp's AddonContext (patches/node-llama-cpp@3.21.1.patch;
 * setSequenceSteering also needs llama.cpp's own, patches/llama.cpp-80fb11ac.patch).
 */
const PATCHED_METHODS = [
  "setControlVector",
  "setSequenceSteering",
  "setActivationCapture",
  "takeActivationCapture",
  "getBatchLogits",
] as const;

// node-llama-cpp's typings do not expose the addon objects; these describe the part we use.
export type BatchLogitIndex = number & { readonly __batchLogitIndex: never };

export interface NativeContextOptions {
  contextSize: number;
  batchSize: number;
  sequences: number;
  threads: number;
  flashAttention?: boolean;
  /** emosteer patch: install the eval callback needed by `setActivationCapture`. */
  captureActivations?: boolean;
}

export interface NativeContext {
  init(): Promise<boolean>;
  dispose(): Promise<void>;
  initBatch(size: number): void;
  addToBatch(sequenceId: number, firstTokenPosition: number, tokens: Uint32Array, logitIndexes: Uint32Array): Uint32Array;
  decodeBatch(): Promise<void>;
  sampleToken(batchLogitIndex: BatchLogitIndex, sampler: NativeSampler): Promise<number | -1>;
  disposeSequence(sequenceId: number): void;
  /** Removes the sequence's cells at positions [startPos, endPos) (endPos -1: to the end); false if it could not. */
  removeTokenCellsFromSequence(sequenceId: number, startPos: number, endPos: number): boolean;
  // emosteer patch:
  setControlVector(data: Float32Array | null, ilStart?: number, ilEnd?: number): void;
  /**
   * A control vector for the tokens of sequence `sequenceId` only (added on top of the context's
   * one): the row that sequence's tokens read from the patched llama.cpp's per-sequence steering
   * table, so sequences with different vectors decode in one batch. null clears it.
   */
  setSequenceSteering(sequenceId: number, data: Float32Array | null, ilStart?: number, ilEnd?: number): void;
  /** While on, a decode stops after the highest selected layer: no logits, later layers' KV cache not written. */
  setActivationCapture(layers: Int32Array | null): void;
  takeActivationCapture(): Float32Array[];
  getBatchLogits(): Float32Array;
}

export interface NativeSampler {
  dispose(): void;
  applyConfig(config: { temperature?: number; topK?: number; topP?: number; minP?: number; seed?: number }): void;
}

export interface NativeModel {
  tokenize(text: string, specialTokens: boolean): Uint32Array;
  detokenize(tokens: Uint32Array, specialTokens?: boolean): string;
  isEogToken(token: number): boolean;
}

interface NativeBindings {
  AddonContext: { new (model: NativeModel, options: NativeContextOptions): NativeContext; prototype: Record<string, unknown> };
  AddonSampler: new (model: NativeModel) => NativeSampler;
}

export function bindingsOf(llama: Llama): NativeBindings {
  return (llama as unknown as { _bindings: NativeBindings })._bindings;
}

export function nativeModelOf(model: LlamaModel): NativeModel {
  return (model as unknown as { _model: NativeModel })._model;
}

let shared: Promise<Llama> | undefined;

/**
 * The process-wide llama.cpp runtime: the private, patched copy of node-llama-cpp in the machine's
 * cache (scripts/build-addon.mjs), loaded only from its own build: the CPU one, or the GPU backend
 * EMOSTEER_LLAMA_GPU names (vulkan, cuda, metal; read once, at the first call). Builds it on first
 * use when the cache has none (progress on stderr) unless EMOSTEER_SKIP_ADDON_BUILD=1. Never falls
 * back to node-llama-cpp's prebuilt (unpatched) binaries nor to another backend: throws
 * {@link NativeAddonMissingError}.
 */
export function loadPatchedLlama(): Promise<Llama> {
  shared ??= (async () => {
    let gpu: ReturnType<typeof gpuChoice>;
    try {
      gpu = gpuChoice();
    } catch (err) {
      throw new NativeAddonMissingError((err as Error).message);
    }
    let location = addonLocation({ gpu });
    if (!readStamp(location)) {
      if (process.env.EMOSTEER_SKIP_ADDON_BUILD === "1")
        throw new NativeAddonMissingError(`${location.dir} holds no finished build (EMOSTEER_SKIP_ADDON_BUILD=1)`);
      try {
        location = await ensureAddon({ gpu });
      } catch (err) {
        throw new NativeAddonMissingError(`building it failed: ${(err as Error).message}`);
      }
    }
    let llama: Llama;
    try {
      const nodeLlamaCpp: typeof import("node-llama-cpp") = await import(pathToFileURL(`${location.nodeLlamaCpp}/dist/index.js`).href);
      llama = await nodeLlamaCpp.getLlama({
        // The build's backend exactly: "auto" could pick another one, or fall back to the CPU.
        gpu,
        build: "never",
        // The build's own options name its folder; without them node-llama-cpp would look for another one.
        cmakeOptions: llamaCmakeOptions(),
        usePrebuiltBinaries: false,
        progressLogs: false,
        logLevel: nodeLlamaCpp.LlamaLogLevel.error,
      });
    } catch (err) {
      throw new NativeAddonMissingError(
        `the build in ${location.dir} could not be loaded (${(err as Error).message.split("\n")[0]}); rebuild it with \`${BUILD_ADDON_COMMAND} --force\``,
      );
    }
    if (llama.gpu !== gpu) {
      await llama.dispose();
      throw new NativeAddonMissingError(
        `the build in ${location.dir} loaded with GPU backend ${String(llama.gpu)} instead of ${String(gpu)} (is its driver installed and a device visible?)`,
      );
    }
    if (gpu !== false && (await llama.getGpuDeviceNames()).length === 0) {
      await llama.dispose();
      throw new NativeAddonMissingError(
        `the ${gpu} build in ${location.dir} found no ${gpu} device` +
          (gpu === "vulkan"
            ? " (a CPU-type device such as Mesa's lavapipe is skipped unless GGML_VK_VISIBLE_DEVICES selects it, e.g. GGML_VK_VISIBLE_DEVICES=0)"
            : "") +
          "; unset EMOSTEER_LLAMA_GPU to use the CPU build",
      );
    }
    const prototype = bindingsOf(llama).AddonContext.prototype;
    const missing = PATCHED_METHODS.filter((name) => typeof prototype[name] !== "function");
    if (missing.length > 0) {
      await llama.dispose();
      throw new NativeAddonMissingError(
        `the addon in ${location.dir} lacks ${missing.join(", ")}, so it was built without the patch; rebuild it with \`${BUILD_ADDON_COMMAND} --force\``,
      );
    }
    return llama;
  })().catch((err: unknown) => {
    shared = undefined; // a later call may succeed once the build exists
    throw err;
  });
  return shared;
}
