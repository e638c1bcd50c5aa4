/**
 * Fuzzing EV-file decoding with mutated variants of real EV files (ours and a foreign one): every
 * variant decodes to a valid EmotionVector or is refused with one of our named errors.
 */
import { describe, expect, it } from "vitest";
import {
  EmotionVector,
  FingerprintMismatchError,
  GgmlType,
  GgufValueType,
  HiddenSizeMismatchError,
  InvalidFileError,
  LayerCountMismatchError,
  NonFiniteValueError,
  decodeVectorFile,
  encodeGguf,
  encodeVectorFile,
} from "../src/index.js";
import { SMOLLM2_MODEL_INFO } from "./helpers/models.js";
import { expectClearRefusal, headerFields, mutate, prng, type Mutation } from "./helpers/fuzz.js";

const model = SMOLLM2_MODEL_INFO;
const ALLOWED = [InvalidFileError, NonFiniteValueError, HiddenSizeMismatchError, LayerCountMismatchError, FingerprintMismatchError];
// Short-data does not apply: an EV file has no separate data region to cut.
const MUTATIONS: Mutation[] = ["truncate", "bit-flip", "size-field", "garbage"];

function ourFile(): Uint8Array {
  const random = prng(99);
  const directions = Array.from({ length: 30 }, (_, l) =>
    l === 0 ? new Float32Array(576) : Float32Array.from({ length: 576 }, () => random() - 0.5),
  );
  return encodeVectorFile(
    new EmotionVector({
      emotion: "anger",
      model,
      directions,
      residualNorms: Float32Array.from({ length: 30 }, (_, l) => 10 + l),
      layerScores: Float32Array.from({ length: 30 }, () => random()),
      provenance: {
        method: "mean-diff",
        settings: { pooling: "mean" },
        samples: 40,
        corpus: "fixed",
        corpusHash: "abcdef0123456789",
        backend: "llama.cpp",
        createdAt: "2026-11-25T00:00:00.000Z",
      },
    }),
  );
}

/** As llama-cvector-generator writes it: directions for layers 1..29, no emosteer keys. */
function foreignFile(): Uint8Array {
  const random = prng(7);
  return encodeGguf({
    metadata: [
      ["general.architecture", { type: GgufValueType.STRING, value: "controlvector" }],
      ["controlvector.model_hint", { type: GgufValueType.STRING, value: "llama" }],
      ["controlvector.layer_count", { type: GgufValueType.INT32, value: 29 }],
    ],
    tensors: Array.from({ length: 29 }, (_, i) => ({
      name: `direction.${i + 1}`,
      dims: [576],
      type: GgmlType.F32,
      data: new Uint8Array(Float32Array.from({ length: 576 }, () => random() - 0.5).buffer),
    })),
  });
}

/** Decodes `count` variants (fewer if `budgetMs` runs out, but never fewer than `min`). */
async function fuzz(base: Uint8Array, options: { emotion?: string }, seed: number, min: number, count: number, budgetMs: number) {
  const random = prng(seed);
  // Fields come from the header part; bit flips and garbage also hit the float data.
  const fields = headerFields(base);
  const refusals = new Map<string, number>();
  let accepted = 0;
  let variants = 0;
  const deadline = performance.now() + budgetMs;
  while (variants < min || (variants < count && performance.now() < deadline)) {
    const file = mutate(base, 0, fields, MUTATIONS[variants % MUTATIONS.length]!, random, `ev#${seed}.${variants}`);
    variants++;
    try {
      const v = await decodeVectorFile(file, { expectedModel: model, ...options });
      accepted++;
      expect(v.directions.length).toBe(30);
      expect(v.directions.every((d) => d.length === 576 && d.every(Number.isFinite))).toBe(true);
    } catch (error) {
      const reason = expectClearRefusal(error, file, ALLOWED);
      refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
    }
    expect(file.largestRead, file.name).toBeLessThanOrEqual(file.size);
  }
  return { variants, accepted, refusals };
}

describe("EV file fuzzing", () => {
  it("decodes or cleanly refuses thousands of mangled variants of an emosteer EV file", async () => {
    const base = ourFile();
    const { variants, accepted, refusals } = await fuzz(base, {}, 4242, 1000, 4000, 4000);
    console.log(
      `EV file (${base.length} bytes): ${variants} variants, ${accepted} accepted, ${variants - accepted} refused for ${refusals.size} kinds of reason`,
    );
    expect(variants - accepted).toBeGreaterThan(variants / 4);
    expect(refusals.size).toBeGreaterThan(10);
  });

  it("decodes or cleanly refuses mangled variants of a foreign (llama-cvector-generator style) file", async () => {
    const base = foreignFile();
    const { variants, accepted, refusals } = await fuzz(base, { emotion: "calm" }, 777, 1000, 3000, 3000);
    console.log(
      `foreign control vector (${base.length} bytes): ${variants} variants, ${accepted} accepted, ${variants - accepted} refused for ${refusals.size} kinds of reason`,
    );
    expect(variants - accepted).toBeGreaterThan(variants / 4);
  });
});
