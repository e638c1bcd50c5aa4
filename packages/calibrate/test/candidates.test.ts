import { describe, expect, it } from "vitest";
import { DEFAULT_CONSTRAINTS, type EvaluatedPoint, candidateWindows, selectOperatingPoint, violations } from "../src/index.js";

describe("candidateWindows", () => {
  it("takes, per width, the window of highest mean discriminability and its neighbours, best first", () => {
    const scores = [0, 0.1, 0.5, 0.9, 1, 0.9, 0.5, 0.1];
    const windows = candidateWindows(scores, 8, { widths: [3] });
    expect(windows.map((w) => w.layers)).toEqual([
      { from: 3, to: 5 },
      { from: 2, to: 4 },
      { from: 4, to: 6 },
    ]);
    expect(windows[0]!.score).toBeCloseTo((0.9 + 1 + 0.9) / 3, 6);
  });

  it("never offers block 0 or a block past the model", () => {
    const scores = [0, 5, 1, 1, 1, 1, 1, 9];
    for (const w of candidateWindows(scores, 8, { widths: [1, 2, 7, 12] })) {
      expect(w.layers.from).toBeGreaterThanOrEqual(1);
      expect(w.layers.to).toBeLessThanOrEqual(7);
      expect(w.layers.from).toBeLessThanOrEqual(w.layers.to);
    }
  });

  it("without layer scores, centres on mid-depth; default widths cover 10–50 % of the blocks", () => {
    const windows = candidateWindows(undefined, 30, {});
    const widths = new Set(windows.map((w) => w.layers.to - w.layers.from + 1));
    expect([...widths].sort((a, b) => a - b)).toEqual([3, 6, 10, 15]);
    const best = windows[0]!.layers;
    expect(best.from).toBeLessThanOrEqual(15);
    expect(best.to).toBeGreaterThanOrEqual(15);
  });
});

describe("selectOperatingPoint", () => {
  const point = (eps: number, more: Partial<EvaluatedPoint> = {}): EvaluatedPoint => ({
    layers: { from: 3, to: 5 },
    injection: "net-shift",
    alpha: 1,
    eps,
    fidelity: 0.8,
    perplexityRatio: 1.1,
    distinct2Ratio: 1,
    ...more,
  });

  it("never picks a point that breaks fidelity, perplexity or distinct-2, however emotional", () => {
    const ok = point(0.4);
    const points = [
      point(0.9, { fidelity: 0.59 }),
      point(0.8, { perplexityRatio: 1.51 }),
      point(0.7, { distinct2Ratio: 0.89 }),
      ok,
      point(0.95, { fidelity: Number.NaN }),
    ];
    expect(selectOperatingPoint(points, DEFAULT_CONSTRAINTS)).toBe(ok);
    expect(violations(points[0]!, DEFAULT_CONSTRAINTS)).toEqual(["fidelity"]);
    expect(violations(points[1]!, DEFAULT_CONSTRAINTS)).toEqual(["perplexity"]);
    expect(violations(points[2]!, DEFAULT_CONSTRAINTS)).toEqual(["distinct-2"]);
    expect(violations(points[4]!, DEFAULT_CONSTRAINTS)).toEqual(["fidelity"]);
  });

  it("the bounds are inclusive; ties go to higher fidelity, then lower perplexity", () => {
    const edge = point(0.5, { fidelity: 0.6, perplexityRatio: 1.5, distinct2Ratio: 0.9 });
    expect(selectOperatingPoint([edge], DEFAULT_CONSTRAINTS)).toBe(edge);
    const faithful = point(0.5, { fidelity: 0.9 });
    expect(selectOperatingPoint([edge, faithful], DEFAULT_CONSTRAINTS)).toBe(faithful);
    expect(selectOperatingPoint([point(0.1, { fidelity: 0.2 })], DEFAULT_CONSTRAINTS)).toBeUndefined();
  });
});
