import { describe, expect, it } from "vitest";
import { EmotionVector, FingerprintMismatchError, HiddenSizeMismatchError } from "../src/index.js";

const model = { architecture: "llama", name: "toy", layerCount: 3, hiddenSize: 4, fingerprint: "00aa" };
const provenance = {
  method: "mean-diff",
  settings: {},
  samples: 1,
  corpus: "fixed",
  corpusHash: "x",
  backend: "test",
  createdAt: "2026-01-01",
} as const;
const make = (v: number, m = model) =>
  new EmotionVector({
    emotion: "joy",
    model: m,
    directions: [new Float32Array(4), new Float32Array(4).fill(v), new Float32Array(4).fill(2 * v)],
    provenance,
  });

describe("EmotionVector", () => {
  it("has algebra: v - v is zero, 2v = v + v", () => {
    const v = make(1.5);
    expect(
      v
        .sub(v)
        .norms()
        .every((n) => n === 0),
    ).toBe(true);
    expect([...v.scale(2).directions[2]!]).toEqual([...v.add(v).directions[2]!]);
  });
  it("refuses to mix models", () => {
    expect(() => make(1).add(make(1, { ...model, fingerprint: "bb" }))).toThrow(FingerprintMismatchError);
  });
  it("names the mismatch in dims", () => {
    expect(() => make(1).assertCompatible({ ...model, hiddenSize: 8 })).toThrow(new HiddenSizeMismatchError(8, 4, 'EV "joy"').message);
  });
});
