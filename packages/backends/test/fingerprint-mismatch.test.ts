import { EmotionVector, FingerprintMismatchError, seededRandom, Steerer, type SteeringBackend } from "@emosteer/core";
import { ensureModel } from "@emosteer/models";
import { beforeAll, describe, expect, it } from "vitest";
import { BACKEND_NAMES, openBackend } from "../src/index.js";

// `Steerer.create(…, { allowFingerprintMismatch: true })` must hold through generate on every
// engine: each engine resolves the spec again against its own model, and used to refuse it there.

/** A vector of the backend's model's shape, labelled with other weights (a requantization, say). */
function foreignVector(backend: SteeringBackend): EmotionVector {
  const { layerCount, hiddenSize } = backend.model;
  const random = seededRandom(11);
  const unit = Float32Array.from({ length: hiddenSize }, () => random() - 0.5);
  const norm = Math.hypot(...unit);
  // The same direction at every layer, norm 40: under net-shift a push at block 1 carried on,
  // strong enough to change SmolLM2's greedy answer within a few tokens.
  const direction = unit.map((x) => (40 * x) / norm);
  return new EmotionVector({
    emotion: "joy",
    model: { ...backend.model, name: `${backend.model.name} (requantized)`, fingerprint: "0123456789abcdef" },
    directions: Array.from({ length: layerCount }, (_, l) => (l === 0 ? new Float32Array(hiddenSize) : direction)),
    provenance: { method: "imported", settings: {}, samples: 0, corpus: "imported", corpusHash: "", backend: "test", createdAt: "" },
  });
}

describe("allowFingerprintMismatch end to end (SmolLM2-135M-Instruct)", () => {
  let modelPath: string;
  beforeAll(async () => {
    modelPath = (await ensureModel("smollm2-135m-instruct")).path;
  });

  // One engine open at a time: the machine is shared and each holds the whole model.
  it.each(BACKEND_NAMES)("%s generates steered with a vector of another fingerprint when the Steerer allows it", async (name) => {
    await using backend = await openBackend(name, { modelPath, threads: 1 });
    const vector = foreignVector(backend);
    await expect(Steerer.create(backend, { vectors: { joy: vector } })).rejects.toThrow(FingerprintMismatchError);

    const steerer = await Steerer.create(backend, { vectors: { joy: vector }, allowFingerprintMismatch: true });
    const options = { maxTokens: 6 };
    const unsteered = await steerer.generate("Tell me about your day.", {}, options);
    const steered = await steerer.generate("Tell me about your day.", { joy: 1 }, options);
    expect(steered.tokens.length).toBeGreaterThan(0);
    // The vector was applied, not dropped on the way.
    expect(steered.tokens).not.toEqual(unsteered.tokens);

    // The engine's own check still stands for a spec that carries no acceptance.
    await expect(
      backend.generate([{ role: "user", content: "Hi" }], { maxTokens: 1, steering: { terms: [{ vector, alpha: 1 }] } }),
    ).rejects.toThrow(FingerprintMismatchError);
  });
});
