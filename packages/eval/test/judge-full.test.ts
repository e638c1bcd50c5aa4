import { describe, expect, it } from "vitest";
import { createJudge } from "../src/judge.js";
import { evaluateJudge } from "../src/judge-report.js";

describe("the full judge (trained once, then cached)", () => {
  it("reaches the GoEmotions-dev macro-F1 floor of 0.55", async () => {
    const judge = await createJudge({ onProgress: (p) => console.log(`[judge] ${p.message}`) });
    const e = evaluateJudge(judge);
    console.log(`dev macro-F1 ${e.macro_f1_dev.toFixed(4)}, ISEAR held-out ${e.isear_heldout_accuracy.toFixed(4)}`);
    expect(e.dev_rows).toBe(5426);
    expect(e.macro_f1_dev).toBeGreaterThanOrEqual(0.55);
    expect(e.isear_heldout_accuracy).toBeGreaterThan(0.5);
    expect(judge.classify("I can't stop smiling, best day ever!").label).toBe("joy");
    expect(judge.classify("I'm terrified of what happens next, I'm so scared").label).toBe("fear");
  }, 1_200_000);
});
