import { describe, expect, it } from "vitest";
import { tuneOffsetsOnLogits } from "../src/judge.js";
import { scoreClassification } from "../src/judge-evaluation.js";

const argmax = (l: Float64Array, o: ArrayLike<number>) => {
  let best = 0;
  for (let c = 1; c < l.length; c++) if (l[c]! + o[c]! > l[best]! + o[best]!) best = c;
  return best;
};

describe("per-class offsets tuned on held-out logits", () => {
  it("undo a prior shift that hides a class, and weigh every set's macro-F1", () => {
    // Three classes; class 2's logit is pushed down by 1, so argmax never picks it although it separates well.
    const logits: Float64Array[] = [];
    const gold: number[][] = [];
    for (let i = 0; i < 90; i++) {
      const c = i % 3;
      const l = Float64Array.from([0, 0, 0], (_, k) => (k === c ? 0.8 : 0) - (k === 2 ? 1 : 0) + 0.01 * ((i * 7) % 5));
      logits.push(l);
      gold.push([c]);
    }
    const none = new Float64Array(3);
    const before = scoreClassification(
      gold,
      logits.map((l) => argmax(l, none)),
      3,
    ).macroF1;
    const offsets = tuneOffsetsOnLogits([{ logits, gold, classes: [0, 1, 2] }], 3);
    const after = scoreClassification(
      gold,
      logits.map((l) => argmax(l, offsets)),
      3,
    ).macroF1;
    expect(before).toBeLessThan(0.7);
    expect(after).toBe(1);
    expect(offsets[2]! - Math.max(offsets[0]!, offsets[1]!)).toBeGreaterThan(0.2);
    // Deterministic, and a second set enters the objective (the same rows twice give the same optimum).
    expect(Array.from(tuneOffsetsOnLogits([{ logits, gold, classes: [0, 1, 2] }], 3))).toEqual(Array.from(offsets));
    const twice = tuneOffsetsOnLogits(
      [
        { logits, gold, classes: [0, 1, 2] },
        { logits, gold, classes: [0, 1, 2] },
      ],
      3,
    );
    expect(
      scoreClassification(
        gold,
        logits.map((l) => argmax(l, twice)),
        3,
      ).macroF1,
    ).toBe(1);
  });
});
