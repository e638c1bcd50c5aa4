import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { BACKEND_NAMES, openBackend, type BackendName } from "@emosteer/backends";
import type { SteeringBackend } from "@emosteer/core";
import { DEFAULT_MODEL_ID, ensureModel, findModelSpec } from "@emosteer/models";
import { UsageError } from "../usage-error.js";
import { progressLine } from "../progress.js";
import { parseBackend } from "./option-values.js";

/** The options every command that runs a model takes (demo, extract, generate), for parseArgs. */
export const ENGINE_OPTIONS = {
  model: { type: "string", default: DEFAULT_MODEL_ID },
  backend: { type: "string", default: "llama.cpp" },
  "vector-cache": { type: "string" },
} as const;

export const ENGINE_HELP = `  --model ID|FILE.gguf  a registry model (see "emosteer models"; default ${DEFAULT_MODEL_ID})
                        or a GGUF file
  --backend NAME        the engine: ${BACKEND_NAMES.join(", ")} (default llama.cpp); the ONNX
                        engines export the GGUF to ONNX on first use (cached)
  --vector-cache DIR    where extracted vectors are cached (default ~/.cache/emosteer/vectors;
                        $EMOSTEER_CACHE_DIR moves the whole cache)`;

/** A registry model id, or a local GGUF file. */
export type ModelChoice = { readonly id: string } | { readonly path: string };

export interface EngineChoice {
  readonly model: ModelChoice;
  readonly backend: BackendName;
  /** Root of the vector cache; undefined for core's default. */
  readonly vectorCache: string | undefined;
}

export function parseEngineOptions(values: { model?: string; backend?: string; "vector-cache"?: string }): EngineChoice {
  return {
    model: parseModel(values.model ?? DEFAULT_MODEL_ID),
    backend: parseBackend(values.backend ?? "llama.cpp"),
    vectorCache: values["vector-cache"] === undefined ? undefined : resolve(values["vector-cache"]),
  };
}

function parseModel(value: string): ModelChoice {
  if (value.endsWith(".gguf")) {
    if (!existsSync(value)) throw new UsageError(`--model: no such file "${value}"`);
    return { path: resolve(value) };
  }
  try {
    return { id: findModelSpec(value).id };
  } catch (error) {
    throw new UsageError(`--model: ${(error as Error).message}`);
  }
}

/** The GGUF file of the chosen model, fetched (and verified) into the model cache when needed. */
export async function modelFile(choice: EngineChoice): Promise<string> {
  if ("path" in choice.model) return choice.model.path;
  const model = await ensureModel(choice.model.id, {
    onProgress: (p) => progressLine(`model ${p.modelId}: ${p.stage} ${p.part}/${p.parts}`),
  });
  progressLine("");
  return model.path;
}

/** Opens the chosen engine on the model file, showing progress on stderr. */
export async function openEngine(choice: EngineChoice, modelPath: string): Promise<SteeringBackend> {
  // A registry model whose GGUF has no chat template (e.g. Gemma 3 270m) gets the registry's.
  const chatTemplate = "id" in choice.model ? findModelSpec(choice.model.id).chatTemplate : undefined;
  const backend = await openBackend(choice.backend, {
    modelPath,
    onProgress: (m) => progressLine(`${choice.backend}: ${m}`),
    ...(chatTemplate ? { chatTemplate } : {}),
  });
  progressLine("");
  return backend;
}
