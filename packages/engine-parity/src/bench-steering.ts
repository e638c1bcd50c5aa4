import { EmotionVector, modelIdentity, type SteeringBackend, type SteeringSpec } from "@emosteer/core";

/**
 * The steering the speed benchmarks (scripts/onnx-bench.ts, scripts/steering-overhead.ts) time: a
 * fixed pseudo-random direction on every layer 1..L-1 (row 0 zero, as on every vector; no other
 * zero row, so every steered layer costs its add), components in ±0.05, small enough to keep the
 * text fluent. A speed figure needs the work of steering, not an emotion, and the seed makes it the
 * same vector on every engine and every run.
 */
export function benchSteering(backend: SteeringBackend, seed: number): SteeringSpec {
  const { layerCount, hiddenSize } = backend.model;
  let state = seed >>> 0;
  const rand = () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return (state / 2 ** 32) * 2 - 1;
  };
  const directions = Array.from({ length: layerCount }, (_, l) =>
    l === 0 ? new Float32Array(hiddenSize) : Float32Array.from({ length: hiddenSize }, () => rand() * 0.05),
  );
  const vector = new EmotionVector({
    emotion: "bench",
    model: modelIdentity(backend.model),
    directions,
    provenance: {
      method: "mean-diff",
      settings: {},
      samples: 0,
      corpus: "bench",
      corpusHash: "0",
      backend: backend.name,
      createdAt: new Date().toISOString(),
    },
  });
  return { terms: [{ vector, alpha: 1 }] };
}
