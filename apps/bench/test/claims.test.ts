import { describe, expect, it } from "vitest";
import {
  claimFourAlphaHurts,
  claimLines,
  claimMinusOneCutsEas,
  claimModerateKeepsMeaning,
  claimOneAlphaRaisesEas,
  claimTwoAlphaSaturates,
  strongestFluentAlpha,
  type AlphaFigures,
  type EngineAggregates,
} from "../src/claims.js";

/** Unsteered figures: EPS 0.1, EAS 1, distinct-2 1, perplexity 2, fidelity 1. */
const BASE: AlphaFigures = { eps: 0.1, eas: 1, easDeltaPct: 0, distinct2: 1, perplexity: 2, fidelity: 1 };

/** Aggregates with α = 0 at BASE and the given α overriding BASE's fields. */
function agg(at: Record<number, Partial<AlphaFigures>>): EngineAggregates {
  return new Map<number, AlphaFigures>([
    [0, BASE],
    ...Object.entries(at).map(([a, x]): [number, AlphaFigures] => [Number(a), { ...BASE, ...x }]),
  ]);
}

describe("claim 1: 2×EV drives EPS to ≈ 1", () => {
  it("is supported at EPS@2 ≥ 0.9 with fluent text", () =>
    expect(claimTwoAlphaSaturates(agg({ 2: { eps: 0.92 } })).verdict).toBe("supported"));
  it("is partly supported at EPS@2 ≥ 0.5 and 0.2 above EPS@0", () =>
    expect(claimTwoAlphaSaturates(agg({ 2: { eps: 0.6 } })).verdict).toBe("partly supported"));
  it("is not supported below that", () => expect(claimTwoAlphaSaturates(agg({ 2: { eps: 0.25 } })).verdict).toBe("not supported"));
  it("is not supported at 0.5 when EPS@0 is already close (not 0.2 above it)", () => {
    const a = new Map([
      [0, { ...BASE, eps: 0.4 }],
      [2, { ...BASE, eps: 0.55 }],
    ]);
    expect(claimTwoAlphaSaturates(a).verdict).toBe("not supported");
  });
  it("is partly supported at most when the figure is met by degenerate text", () => {
    const c = claimTwoAlphaSaturates(agg({ 2: { eps: 0.95, distinct2: 0.3 } }));
    expect(c.verdict).toBe("partly supported");
    expect(c.line).toContain("the figure is met, but by broken text. At α = 2 the text degenerates (distinct-2 0.30 vs 1.00 unsteered).");
  });
  it("is not measured without α = 2", () => expect(claimTwoAlphaSaturates(agg({ 1: { eps: 0.9 } })).verdict).toBe("not measured"));
});

describe("claim 2: 1×EV raises EAS by ≥ 400 %", () => {
  it("is supported at ΔEAS@+1 ≥ 400 %", () => expect(claimOneAlphaRaisesEas(agg({ 1: { easDeltaPct: 450 } })).verdict).toBe("supported"));
  it("is partly supported at ≥ 100 %", () =>
    expect(claimOneAlphaRaisesEas(agg({ 1: { easDeltaPct: 150 } })).verdict).toBe("partly supported"));
  it("is not supported below 100 % or when unmeasurable", () => {
    expect(claimOneAlphaRaisesEas(agg({ 1: { easDeltaPct: 40 } })).verdict).toBe("not supported");
    expect(claimOneAlphaRaisesEas(agg({ 1: { easDeltaPct: null } })).verdict).toBe("not supported");
  });
  it("is partly supported at most when met by degenerate text", () =>
    expect(claimOneAlphaRaisesEas(agg({ 1: { easDeltaPct: 500, distinct2: 0.5 } })).verdict).toBe("partly supported"));
  it("is not measured without α = 1", () => expect(claimOneAlphaRaisesEas(agg({ 2: {} })).verdict).toBe("not measured"));
});

describe("claim 3: −1×EV cuts EAS by ~90 %", () => {
  it("is supported at ΔEAS@−1 ≤ −80 %", () => expect(claimMinusOneCutsEas(agg({ [-1]: { easDeltaPct: -85 } })).verdict).toBe("supported"));
  it("is partly supported at ≤ −30 %", () =>
    expect(claimMinusOneCutsEas(agg({ [-1]: { easDeltaPct: -40 } })).verdict).toBe("partly supported"));
  it("is not supported above −30 %", () => expect(claimMinusOneCutsEas(agg({ [-1]: { easDeltaPct: 10 } })).verdict).toBe("not supported"));
  it("is not measured without α = −1", () => expect(claimMinusOneCutsEas(agg({ 1: {} })).verdict).toBe("not measured"));
});

describe("claim 4: 4×EV saturates and hurts fluency", () => {
  it("is supported when EPS@4 ≤ EPS@2 + 0.05 and perplexity > 1.5× unsteered", () =>
    expect(claimFourAlphaHurts(agg({ 2: { eps: 0.6 }, 4: { eps: 0.62, perplexity: 5 } })).verdict).toBe("supported"));
  it("is supported when saturated and distinct-2 < 0.8× unsteered", () =>
    expect(claimFourAlphaHurts(agg({ 2: { eps: 0.6 }, 4: { eps: 0.5, distinct2: 0.5 } })).verdict).toBe("supported"));
  it("is partly supported when it saturates but fluency holds", () =>
    expect(claimFourAlphaHurts(agg({ 2: { eps: 0.6 }, 4: { eps: 0.6 } })).verdict).toBe("partly supported"));
  it("is partly supported when fluency suffers but EPS keeps rising", () =>
    expect(claimFourAlphaHurts(agg({ 2: { eps: 0.4 }, 4: { eps: 0.8, perplexity: 9 } })).verdict).toBe("partly supported"));
  it("is not supported when EPS keeps rising and fluency holds", () =>
    expect(claimFourAlphaHurts(agg({ 2: { eps: 0.4 }, 4: { eps: 0.8 } })).verdict).toBe("not supported"));
  it("is not measured without both α = 2 and α = 4", () =>
    expect(claimFourAlphaHurts(agg({ 4: { eps: 0.8 } })).verdict).toBe("not measured"));
});

describe("claim 5: meaning and fluency kept at α ≤ 1", () => {
  it("is supported at fidelity ≥ 0.7 and perplexity ≤ 1.5×", () =>
    expect(claimModerateKeepsMeaning(agg({ 0.5: { fidelity: 0.8, perplexity: 2.2 }, 1: { fidelity: 0.7, perplexity: 2.6 } })).verdict).toBe(
      "supported",
    ));
  it("is partly supported at fidelity ≥ 0.5 and perplexity ≤ 2.5×", () =>
    expect(claimModerateKeepsMeaning(agg({ 1: { fidelity: 0.55, perplexity: 4.5 } })).verdict).toBe("partly supported"));
  it("is not supported below that (or without perplexity)", () => {
    expect(claimModerateKeepsMeaning(agg({ 1: { fidelity: 0.3, perplexity: 2 } })).verdict).toBe("not supported");
    expect(claimModerateKeepsMeaning(agg({ 1: { fidelity: 0.9, perplexity: null } })).verdict).toBe("not supported");
  });
  it("is not measured without α = 0.5 or 1, and then left out of the section", () => {
    const a = agg({ 2: {} });
    expect(claimModerateKeepsMeaning(a).verdict).toBe("not measured");
    expect(claimLines(a).map((l) => l.slice(0, 2))).toEqual(["1.", "2.", "3.", "4.", "6."]);
  });
});

describe("finding 6: the strongest fluent α", () => {
  it("picks the α > 0 with the highest EPS among those whose text stays fluent", () => {
    const r = strongestFluentAlpha(agg({ 1: { eps: 0.3 }, 2: { eps: 0.5 }, 4: { eps: 0.9, distinct2: 0.4 } }));
    expect(r.alpha).toBe(2);
    expect(r.line).toContain("is α = 2: EPS 0.50 vs 0.10 unsteered");
  });
  it("says so when no α > 0 keeps the text fluent", () => {
    const r = strongestFluentAlpha(agg({ 1: { distinct2: 0.5 }, [-1]: { eps: 0.9 } }));
    expect(r.alpha).toBeNull();
    expect(r.line).toContain("no α > 0 in this run keeps the text fluent");
  });
});
