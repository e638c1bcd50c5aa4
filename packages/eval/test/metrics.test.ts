import { NonFiniteValueError } from "@emosteer/core";
import { describe, expect, it } from "vitest";
import {
  aggregate,
  bootstrapInterval,
  bootstrapIntervalOfSamples,
  consistency,
  cosineSimilarity,
  deltaEasPercent,
  distinct2,
  emotionAlignmentScore,
  emotionProbabilityScore,
  hitRate,
  longestRepeatedNgramShare,
  pairedSimilarity,
  perplexityFromLogProbs,
  tokenWindows,
  windowScores,
} from "../src/metrics.js";

describe("aggregates", () => {
  it("EPS is the mean target probability with an interval around it", () => {
    const a = emotionProbabilityScore([0.2, 0.4, 0.6, 0.8]);
    expect(a.mean).toBeCloseTo(0.5, 12);
    expect(a.n).toBe(4);
    expect(a.low).toBeGreaterThanOrEqual(0.2);
    expect(a.high).toBeLessThanOrEqual(0.8);
    expect(a.low).toBeLessThan(0.5);
    expect(a.high).toBeGreaterThan(0.5);
  });

  it("bootstrap is seeded: same seed same interval, other seed (usually) another", () => {
    const values = [0.1, 0.9, 0.3, 0.7, 0.5, 0.2, 0.8];
    expect(aggregate(values, { seed: 7 })).toEqual(aggregate(values, { seed: 7 }));
    expect(aggregate(values, { seed: 7 })).not.toEqual(aggregate(values, { seed: 8 }));
  });

  it("a constant sample has a zero-width interval", () => {
    expect(aggregate([0.3, 0.3, 0.3])).toEqual({ mean: 0.3, low: 0.3, high: 0.3, n: 3 });
  });

  it("hit rate counts top class = target", () => {
    const h = hitRate(["joy", "anger", "joy", "neutral"], "joy");
    expect(h.mean).toBe(0.5);
    expect(h.n).toBe(4);
  });

  it("EAS is the mean of per-100-word hits", () => {
    expect(emotionAlignmentScore([10, 0, 5]).mean).toBe(5);
  });

  it("empty input and NaN give clear errors, never NaN", () => {
    expect(() => aggregate([])).toThrow(/0 values/);
    expect(() => aggregate([0.1, Number.NaN])).toThrow(NonFiniteValueError);
    expect(() => bootstrapInterval(0, () => 0)).toThrow(RangeError);
    expect(() => bootstrapIntervalOfSamples([3, 0], () => 0)).toThrow(RangeError);
  });

  it("bootstraps a difference of two independent samples, each resampled on its own", () => {
    const a = Array.from({ length: 200 }, (_, i) => (i % 10) / 10); // mean 0.45
    const b = Array.from({ length: 50 }, (_, i) => 0.2 + (i % 5) / 10); // mean 0.4
    const meanAt = (values: number[], idx: Int32Array) => idx.reduce((s, i) => s + values[i]!, 0) / idx.length;
    const { low, high } = bootstrapIntervalOfSamples([a.length, b.length], ([ia, ib]) => meanAt(b, ib!) - meanAt(a, ia!), { seed: 3 });
    expect(low).toBeLessThan(-0.05);
    expect(high).toBeGreaterThan(-0.05);
    // The smaller sample dominates the spread: with b's values constant the interval is a's alone, and narrower.
    const constant = bootstrapIntervalOfSamples([a.length, b.length], ([ia]) => 0.4 - meanAt(a, ia!), { seed: 3 });
    expect(constant.high - constant.low).toBeLessThan(high - low);
    // One sample reproduces bootstrapInterval draw for draw.
    const one = bootstrapInterval(a.length, (ia) => meanAt(a, ia), { seed: 5 });
    expect(bootstrapIntervalOfSamples([a.length], ([ia]) => meanAt(a, ia!), { seed: 5 })).toEqual(one);
  });
});

describe("ΔEAS %", () => {
  it("is relative to the unsteered mean", () => {
    // baseline mean 2, steered mean 3 → +50 %
    const d = deltaEasPercent([2, 4], [1, 3]);
    expect(d.percent).toBeCloseTo(50, 12);
    expect(d.absolute).toBe(1);
    expect(d.n).toBe(2);
    expect(d.low!).toBeLessThanOrEqual(d.high!);
  });

  it("is null (not NaN or ∞) when the baseline has no emotion words; absolute stays defined", () => {
    const d = deltaEasPercent([2, 4], [0, 0]);
    expect(d).toEqual({ percent: null, low: null, high: null, absolute: 3, n: 2 });
  });

  it("needs paired inputs", () => {
    expect(() => deltaEasPercent([1], [1, 2])).toThrow(/paired/);
  });
});

describe("similarity", () => {
  it("cosine of hand-made vectors", () => {
    expect(cosineSimilarity([1, 0], [0, 1])).toBe(0);
    expect(cosineSimilarity([1, 2, 2], [2, 4, 4])).toBeCloseTo(1, 12);
    expect(cosineSimilarity([3, 4], [4, 3])).toBeCloseTo(24 / 25, 12);
    expect(cosineSimilarity([0, 0], [1, 1])).toBe(0);
    expect(() => cosineSimilarity([1], [1, 2])).toThrow(RangeError);
  });

  it("paired similarity averages the pair cosines", () => {
    const s = pairedSimilarity(
      [
        [1, 0],
        [3, 4],
      ],
      [
        [1, 0],
        [4, 3],
      ],
    );
    expect(s.mean).toBeCloseTo((1 + 0.96) / 2, 12);
    expect(s.n).toBe(2);
  });
});

describe("fluency", () => {
  it("perplexity is exp of the negative mean log-probability", () => {
    expect(perplexityFromLogProbs([Math.log(0.5), Math.log(0.5)])).toBeCloseTo(2, 12);
    expect(perplexityFromLogProbs([Math.log(0.5), Math.log(0.125)])).toBeCloseTo(4, 12); // exp((ln2 + ln8)/2) = 4
    expect(perplexityFromLogProbs([])).toBeNull();
    expect(() => perplexityFromLogProbs([Number.NEGATIVE_INFINITY])).toThrow(NonFiniteValueError);
  });

  it("distinct-2 counts unique bigrams over all bigrams", () => {
    expect(distinct2("a b a b")).toBeCloseTo(2 / 3, 12); // bigrams ab, ba, ab
    expect(distinct2("The cat sat")).toBe(1);
    expect(distinct2("word")).toBe(0);
    expect(distinct2("")).toBe(0);
  });

  it("longest repeated n-gram share", () => {
    expect(longestRepeatedNgramShare("a b c a b c")).toBe(0.5);
    expect(longestRepeatedNgramShare("x y x y x y x y")).toBe(0.75);
    expect(longestRepeatedNgramShare("one two three four")).toBe(0);
    expect(longestRepeatedNgramShare("I am happy . I am sad")).toBe(2 / 7);
    expect(longestRepeatedNgramShare("")).toBe(0);
  });

  it("docs/metrics.md worked example", () => {
    expect(distinct2("the cat saw the cat")).toBe(0.75);
    expect(longestRepeatedNgramShare("the cat saw the cat")).toBe(0.4);
    expect(tokenWindows(Array.from({ length: 300 }, (_, i) => `t${i}`).join(" "), 128).map((w) => w.split(" ").length)).toEqual([128, 172]);
    expect(emotionProbabilityScore([0.91, 0.84, 0.3]).mean).toBeCloseTo(0.683, 3);
    expect(hitRate(["joy", "joy", "neutral"], "joy").mean).toBeCloseTo(2 / 3, 12);
  });
});

describe("long-text windows", () => {
  it("cuts whitespace tokens into windows and merges a short tail", () => {
    const text = Array.from({ length: 10 }, (_, i) => `w${i}`).join(" ");
    expect(tokenWindows(text, 4)).toEqual(["w0 w1 w2 w3", "w4 w5 w6 w7", "w8 w9"]);
    expect(tokenWindows(text, 3)).toEqual(["w0 w1 w2", "w3 w4 w5", "w6 w7 w8 w9"]);
    expect(tokenWindows("", 128)).toEqual([]);
    expect(windowScores(text, (w) => w.split(" ").length, 4)).toEqual([4, 4, 2]);
  });

  it("consistency reports spread and drift", () => {
    const c = consistency([0.2, 0.4, 0.6]);
    expect(c.overall.mean).toBeCloseTo(0.4, 12);
    expect(c.min).toBe(0.2);
    expect(c.max).toBe(0.6);
    expect(c.std).toBeCloseTo(Math.sqrt(0.08 / 3), 12);
    expect(c.slope).toBeCloseTo(0.2, 12);
    expect(consistency([0.5]).slope).toBe(0);
  });
});
