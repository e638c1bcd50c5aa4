// The engine the server tests run on: the real default model on llama.cpp (the server's default),
// or the engine named by EMOSTEER_SERVER_TEST_BACKEND (onnx, transformers.js), with the five core
// EVs from the shared vector cache (extracted once per machine, as `pnpm demo` does).
import { openBackend } from "@emosteer/backends";
import type { EmotionVector, SteeringBackend } from "@emosteer/core";
import { cachedEmotionVectors } from "@emosteer/core/node";
import { DEFAULT_MODEL_ID, ensureModel } from "@emosteer/models";

export const MODEL_ID = DEFAULT_MODEL_ID;

export interface Engine {
  readonly backend: SteeringBackend;
  readonly vectors: ReadonlyMap<string, EmotionVector>;
}

export async function openEngine(): Promise<Engine> {
  const name = process.env.EMOSTEER_SERVER_TEST_BACKEND ?? "llama.cpp";
  const { path } = await ensureModel(MODEL_ID);
  const backend = await openBackend(name, { modelPath: path });
  try {
    const vectors = await cachedEmotionVectors(backend);
    return { backend, vectors };
  } catch (error) {
    await backend.dispose();
    throw error;
  }
}
