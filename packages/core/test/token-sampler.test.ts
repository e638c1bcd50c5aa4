import { describe, expect, it } from "vitest";
import { argmax, seededRandom, TokenSampler } from "../src/index.js";

const logits = Float32Array.from([1, 3, 2, 0.5, 2.9]);

describe("TokenSampler", () => {
  it("is greedy at temperature 0 (first index on ties)", () => {
    expect(new TokenSampler().sample(logits)).toBe(1);
    expect(argmax([0, 5, 5, 1])).toBe(1);
  });

  it("gives the same tokens for the same seed and different ones for another seed", () => {
    const draw = (seed: number) => {
      const sampler = new TokenSampler({ temperature: 1, topK: 5, topP: 1, seed });
      return Array.from({ length: 40 }, () => sampler.sample(logits));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it("samples the softmax of the logits over top-k at temperature 1", () => {
    const sampler = new TokenSampler({ temperature: 1, topK: 5, topP: 1, seed: 3 });
    const counts = new Array<number>(5).fill(0);
    const n = 20_000;
    for (let i = 0; i < n; i++) counts[sampler.sample(logits)]!++;
    const weights = Array.from(logits, (x) => Math.exp(x));
    const total = weights.reduce((a, b) => a + b, 0);
    for (const [i, w] of weights.entries()) expect(Math.abs(counts[i]! / n - w / total), `token ${i}`).toBeLessThan(0.012);
  });

  it("keeps only the top k, and top-p's nucleus taken before temperature (llama.cpp's order)", () => {
    const topK = new TokenSampler({ temperature: 5, topK: 2, topP: 1, seed: 1 });
    const seen = new Set(Array.from({ length: 500 }, () => topK.sample(logits)));
    expect([...seen].sort()).toEqual([1, 4]);
    // Untempered probabilities: 1 → 0.40, 4 → 0.36, 2 → 0.15… top-p 0.5 keeps tokens 1 and 4 only,
    // even though temperature 5 would flatten the distribution enough to bring token 2 into a 0.5 nucleus.
    const nucleus = new TokenSampler({ temperature: 5, topK: 5, topP: 0.5, seed: 1 });
    expect(new Set(Array.from({ length: 500 }, () => nucleus.sample(logits)))).toEqual(new Set([1, 4]));
  });

  it("refuses settings that mean nothing", () => {
    expect(() => new TokenSampler({ temperature: -1 })).toThrow(/temperature/);
    expect(() => new TokenSampler({ topK: 0 })).toThrow(/topK/);
    expect(() => new TokenSampler({ topP: 1.5 })).toThrow(/topP/);
  });

  it("draws uniformly from its seeded generator", () => {
    const random = seededRandom(42);
    const values = Array.from({ length: 10_000 }, random);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(Math.abs(values.reduce((a, b) => a + b, 0) / values.length - 0.5)).toBeLessThan(0.01);
    expect(seededRandom(42)()).toBe(values[0]);
  });
});
