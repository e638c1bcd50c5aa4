import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { createOnnxBackend } from "@emosteer/backend-onnx";
import { createTransformersBackend } from "@emosteer/backend-transformers";
import { EmotionVector, modelIdentity, type ModelIdentity, type SessionBackend, type SteeringBackend } from "@emosteer/core";
import { DEFAULT_MODEL_ID, ensureModel } from "@emosteer/models";
import { exportGgufToOnnx } from "@emosteer/onnx-export";

/** Every engine opens with this context, small so that overflow cases cost a few tokens. */
export const CONTEXT_SIZE = 96;

export const ENGINE_NAMES = [
  "llama.cpp",
  "llama.cpp session",
  "onnx",
  "onnx session",
  "transformers.js",
  "transformers.js session",
] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/**
 * Opens `name` on the default model (SmolLM2-135M-Instruct; the ONNX engines on its fp32 export,
 * cached): an engine of {@link openSessionEngine}, through a session for the "… session" names.
 */
export async function openEngine(name: EngineName): Promise<SteeringBackend> {
  const session = name.endsWith(" session");
  const backend = await openSessionEngine(name.replace(/ session$/, "") as SessionEngineName);
  return session ? throughSession(backend) : backend;
}

/** transformers.js on the fp32 export of the GGUF at `path` (cached). */
async function openTransformers(path: string) {
  const { modelDir } = await exportGgufToOnnx({ ggufPath: path, precision: "fp32" });
  return createTransformersBackend({ modelDir, contextSize: CONTEXT_SIZE });
}

/** The engines that offer batched sessions (every engine). */
export type SessionEngineName = "llama.cpp" | "onnx" | "transformers.js";

/**
 * The session engines whose numerics are F32 (the fp32 export), where a batched row can be
 * compared with the same request alone; llama.cpp runs the GGUF's quantized kernels.
 */
export const F32_SESSION_ENGINES: readonly SessionEngineName[] = ["onnx", "transformers.js"];

/** The engines that offer batched sessions (every engine), each opened with {@link CONTEXT_SIZE}. */
export async function openSessionEngine(name: SessionEngineName): Promise<SessionBackend> {
  const { path } = await ensureModel(DEFAULT_MODEL_ID);
  switch (name) {
    case "llama.cpp":
      return createLlamaCppBackend({ modelPath: path, contextSize: CONTEXT_SIZE, threads: 2 });
    case "onnx":
      return createOnnxBackend({ modelPath: path, contextSize: CONTEXT_SIZE });
    case "transformers.js":
      return openTransformers(path);
  }
}

/**
 * The backend with every generate going through a batching session (two sequences per decode):
 * the session keeps generate's contract.
 */
function throughSession(backend: SessionBackend): SteeringBackend {
  const session = backend.createSession({ parallelSequences: 2 });
  return new Proxy(backend, {
    get(target, property) {
      if (property === "generate") return session.generate.bind(session);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * A plain-text prompt of exactly `tokens` tokens on `backend` that greedy decoding continues
 * predictably (counting), so no end-of-generation token cuts a case short.
 */
export async function countingPrompt(backend: SteeringBackend, tokens: number): Promise<string> {
  let text = "1, 2, 3";
  for (let n = 4; (await backend.tokenize(text)).length < tokens; n++) text += `, ${n}`;
  // Trim characters until the count is exact (one number is up to two tokens).
  while ((await backend.tokenize(text)).length > tokens) text = text.slice(0, -1);
  return text;
}

/** A vector of small random-looking values for `model` (which may differ from the backend's model). */
export function vectorFor(model: ModelIdentity): EmotionVector {
  const directions = Array.from({ length: model.layerCount }, (_, layer) =>
    Float32Array.from({ length: model.hiddenSize }, (_, i) => (layer === 0 ? 0 : Math.sin(layer * 31 + i) * 0.01)),
  );
  return new EmotionVector({
    emotion: "joy",
    model,
    directions,
    provenance: {
      method: "mean-diff",
      settings: {},
      samples: 1,
      corpus: "test",
      corpusHash: "0000000000000000",
      backend: "conformance",
      createdAt: new Date(0).toISOString(),
    },
  });
}

export { modelIdentity };
