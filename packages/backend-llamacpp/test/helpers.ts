import { EmotionVector, modelIdentity, type ModelInfo, type SteeringBackend } from "@emosteer/core";
import { ensureModel } from "@emosteer/models";
import { createLlamaCppBackend, type LlamaCppBackend } from "../src/index.js";

export const MODEL_ID = "smollm2-135m-instruct";

export async function smolLmPath(): Promise<string> {
  return (await ensureModel(MODEL_ID)).path;
}

/** The default test backend: two threads (the machine has two cores), small context. */
export async function openSmolLm(options: { contextSize?: number } = {}): Promise<LlamaCppBackend> {
  return createLlamaCppBackend({ modelPath: await smolLmPath(), contextSize: options.contextSize ?? 1024, threads: 2 });
}

/** Chat-formatted prompt + response, and the response span inside its tokens. */
export async function chatSample(backend: SteeringBackend, user: string, assistant: string) {
  const prompt = backend.formatChat([{ role: "user", content: user }], { addGenerationPrompt: true });
  const promptTokens = await backend.tokenize(prompt);
  const tokens = await backend.tokenize(prompt + assistant);
  return { tokens, spanStart: promptTokens.length, spanEnd: tokens.length };
}

/** Mean over positions of each layer's captured rows. */
export function meanRows(rows: Float32Array, positions: number, hiddenSize: number): Float32Array {
  const mean = new Float32Array(hiddenSize);
  for (let p = 0; p < positions; p++) for (let i = 0; i < hiddenSize; i++) mean[i]! += rows[p * hiddenSize + i]! / positions;
  return mean;
}

/**
 * A real (small) emotion vector: mean response residual of an overjoyed answer minus that of a
 * neutral answer to the same question, on every layer (layer 0 zero).
 */
export async function joyVector(backend: SteeringBackend): Promise<EmotionVector> {
  const question = "How was your weekend?";
  const joyful = await chatSample(
    backend,
    question,
    "It was absolutely wonderful! I am so happy, everything was amazing and I loved every moment of it!",
  );
  const neutral = await chatSample(
    backend,
    question,
    "It was an ordinary weekend. I did some chores, read a little and went to bed at the usual time.",
  );
  const [a, b] = await Promise.all([backend.captureResiduals(joyful), backend.captureResiduals(neutral)]);
  const { layerCount, hiddenSize } = backend.model;
  const directions = Array.from({ length: layerCount }, (_, layer) => {
    if (layer === 0) return new Float32Array(hiddenSize);
    const pa = meanRows(a.data[layer]!, a.positions, hiddenSize);
    const pb = meanRows(b.data[layer]!, b.positions, hiddenSize);
    return pa.map((x, i) => x - pb[i]!);
  });
  return testVector(backend.model, "joy", directions);
}

export function testVector(model: ModelInfo, emotion: string, directions: Float32Array[]): EmotionVector {
  return new EmotionVector({
    emotion,
    model: modelIdentity(model),
    directions,
    provenance: {
      method: "mean-diff",
      settings: {},
      samples: 1,
      corpus: "test",
      corpusHash: "0000000000000000",
      backend: "llama.cpp",
      createdAt: new Date(0).toISOString(),
    },
  });
}
