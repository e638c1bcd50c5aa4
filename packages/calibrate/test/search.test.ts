import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeVectorFile, encodeVectorFile } from "@emosteer/core";
import { type CalibrateOptions, PointCache, calibrate, violations, DEFAULT_CONSTRAINTS } from "../src/index.js";
import { CONTRAST, QUERIES, WindowBackend, joyVector, windowScorer } from "./window-backend.js";

const dir = mkdtempSync(join(tmpdir(), "emosteer-calibrate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const options: CalibrateOptions = {
  scorer: windowScorer,
  queries: QUERIES,
  contrast: CONTRAST,
  windows: { widths: [2, 3, 4] },
  intensities: [0.5, 1, 1.5, 2, 2.5, 3, 4],
  confirm: 4,
};

describe("calibrate on a synthetic model with a known best window (3..5)", () => {
  it("finds the window, the largest α that keeps fidelity ≥ 0.6, and records a valid profile", async () => {
    const backend = new WindowBackend();
    const events: string[] = [];
    const result = await calibrate(backend, joyVector(), { ...options, onProgress: (p) => events.push(p.stage) });
    expect(result.chosen).toMatchObject({ layers: { from: 3, to: 5 }, injection: "net-shift", alpha: 2.5 });
    expect(result.profile).toMatchObject({
      layers: { from: 3, to: 5 },
      injection: "net-shift",
      alpha: 2.5,
      judge: "synthetic-judge",
      searchedOn: { split: "extraction", queries: 4 },
    });
    expect(result.profile!.objective.fidelity).toBeGreaterThanOrEqual(0.6);
    expect(result.unsteered.eps).toBe(0);
    expect(result.profile!.objective.eps).toBeGreaterThan(result.unsteered.eps);
    expect(result.chosen!.violations).toEqual([]);
    // A profile made by the search round-trips through a vector file.
    const again = await decodeVectorFile(encodeVectorFile(joyVector().withProfile(result.profile)));
    expect(again.profile).toEqual(result.profile);
    // Cost is reported, and matches what the backend saw.
    expect(result.cost.generations).toBe(backend.generateCalls);
    expect(result.cost.teacherForcedPasses).toBeGreaterThan(0);
    expect(result.cost.evaluations).toBe(result.evaluated.length);
    expect(result.cost.seconds).toBeGreaterThanOrEqual(0);
    expect(new Set(events)).toEqual(new Set(["baseline", "teacher-forced", "generation"]));
  });

  it("never chooses a point that breaks a constraint, though more emotional ones were measured", async () => {
    const result = await calibrate(new WindowBackend(), joyVector(), options);
    const chosen = result.chosen!;
    const broken = result.evaluated.filter((p) => p.violations.length > 0);
    for (const p of result.evaluated) expect(p.violations).toEqual(violations(p, DEFAULT_CONSTRAINTS));
    // 3..5 at α 3 is more emotional than the choice but drifts (fidelity).
    const drifted = broken.find((p) => p.layers.from === 3 && p.layers.to === 5 && p.alpha === 3)!;
    expect(drifted.violations).toEqual(["fidelity"]);
    expect(drifted.eps).toBeGreaterThan(chosen.eps);
    // 2..5 reads more emotion than 3..5 at the same α but repeats itself (distinct-2), so its climb stops there.
    const repeating = broken.find((p) => p.layers.from === 2 && p.layers.to === 5)!;
    expect(repeating.violations).toEqual(["distinct-2"]);
    const same = result.evaluated.find((p) => p.layers.from === 3 && p.layers.to === 5 && p.alpha === repeating.alpha)!;
    expect(repeating.eps).toBeGreaterThan(same.eps);
    expect(result.evaluated.filter((p) => p.layers.from === 2 && p.layers.to === 5)).toHaveLength(1);
  });

  it("the teacher-forced pre-filter drops garbling windows before any generation; confirmed without it, they break perplexity", async () => {
    const filtered = await calibrate(new WindowBackend(), joyVector(), options);
    const garbling = (l: { from: number; to: number }) => l.from <= 1 || l.to >= 6;
    // Net-shift at the pre-intensity pushes hard on a garbling block: visible teacher-forced, dropped.
    const netShiftGarbling = filtered.preselected.filter((p) => garbling(p.layers) && p.injection === "net-shift");
    expect(netShiftGarbling.length).toBeGreaterThan(0);
    expect(netShiftGarbling.every((p) => p.dropped && p.teacherForcedPerplexityRatio! > 1.5)).toBe(true);
    expect(filtered.preselected.filter((p) => p.dropped).every((p) => p.teacherForcedPerplexityRatio! > 1.5)).toBe(true);
    const key = (p: { layers: { from: number; to: number }; injection: string }) => `${p.layers.from}-${p.layers.to}-${p.injection}`;
    const dropped = new Set(filtered.preselected.filter((p) => p.dropped).map(key));
    expect(filtered.evaluated.some((p) => dropped.has(key(p)))).toBe(false);

    const unfiltered = await calibrate(new WindowBackend(), joyVector(), { ...options, preFilterPerplexityRatio: Infinity, confirm: 20 });
    const garbled = unfiltered.evaluated.filter((p) => garbling(p.layers));
    expect(garbled.some((p) => p.violations.includes("perplexity"))).toBe(true);
    expect(unfiltered.chosen).toMatchObject({ layers: { from: 3, to: 5 }, alpha: 2.5 });
    for (const p of unfiltered.evaluated) if (p.violations.length > 0) expect(p).not.toBe(unfiltered.chosen);
  });

  it("respects the budget and reports no profile when nothing is feasible", async () => {
    const small = await calibrate(new WindowBackend(), joyVector(), { ...options, budget: 3 });
    expect(small.evaluated.length).toBe(3);
    const impossible = await calibrate(new WindowBackend(), joyVector(), { ...options, constraints: { minFidelity: 1.01 } });
    expect(impossible.profile).toBeUndefined();
    expect(impossible.chosen).toBeUndefined();
  });

  it("resumes from the cache file: a second run measures nothing again and gives the same result", async () => {
    const path = join(dir, "cache.json");
    const first = await calibrate(new WindowBackend(), joyVector(), { ...options, cache: PointCache.open(path) });
    expect(JSON.parse(readFileSync(path, "utf8")).version).toBe(1);
    const backend = new WindowBackend();
    const second = await calibrate(backend, joyVector(), { ...options, cache: PointCache.open(path) });
    expect(backend.generateCalls).toBe(0);
    expect(backend.scoreCalls).toBe(0);
    expect(second.cost.cachedEvaluations).toBe(second.evaluated.length);
    expect(second.profile).toEqual(first.profile);
    // Another judge is another key: nothing reused for the points.
    const other = new WindowBackend();
    await calibrate(other, joyVector(), {
      ...options,
      scorer: { ...windowScorer, judgeId: "other" },
      cache: PointCache.open(path),
      budget: 1,
    });
    expect(other.generateCalls).toBe(QUERIES.length);
  });

  it("refuses evaluation queries", async () => {
    await expect(calibrate(new WindowBackend(), joyVector(), { ...options, split: "evaluation" })).rejects.toThrow(/evaluation queries/);
  });
});
