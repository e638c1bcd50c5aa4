import { describe, expect, it } from "vitest";
import { loadGoEmotions } from "../src/data.js";
import { createJudge, V1_JUDGE_SETTINGS } from "../src/judge.js";
import { scoreSet } from "../src/judge-report.js";
import { resolveDataDir } from "../src/paths.js";

describe("judge v1, still selectable by name (trained once, then cached)", () => {
  it("reaches the GoEmotions-dev macro-F1 floor of 0.55", async () => {
    const judge = await createJudge({ judge: "v1", onProgress: (p) => console.log(`[judge] ${p.message}`) });
    expect(judge.name).toBe("v1");
    expect(judge.settings).toEqual(V1_JUDGE_SETTINGS);
    const dev = loadGoEmotions(resolveDataDir(), "dev");
    const s = scoreSet(
      dev.map((r) => r.labels),
      await judge.probabilitiesMany(dev.map((r) => r.text)),
    );
    console.log(`v1 ${judge.id.slice(0, 12)}: GoEmotions dev macro-F1 ${s.macro_f1.toFixed(4)}`);
    expect(s.rows).toBe(5426);
    expect(s.macro_f1).toBeGreaterThanOrEqual(0.55);
    expect((await judge.classify("I can't stop smiling, best day ever!")).label).toBe("joy");
    expect((await judge.classify("I'm terrified of what happens next, I'm so scared")).label).toBe("fear");
  }, 1_200_000);
});
