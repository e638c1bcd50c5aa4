// Suppression under the prompt: planning puts the prompt + EV cells after the prompt-only cells they
// are compared with, and the summary pairs them by query.
import { describe, expect, it } from "vitest";
import { conditionKey } from "../src/condition.js";
import { parseBenchArgs } from "../src/options.js";
import { planCells } from "../src/plan.js";
import { summarizeSuppression } from "../src/suppression.js";
import { storedCell } from "./cell-fixture.js";

const env = { cacheDir: "/tmp/c", cwd: "/tmp" };

describe("suppression under the prompt", () => {
  it("plans prompt + α·EV cells after the prompt-only cells of the same query, keyed apart", () => {
    const options = parseBenchArgs(["--suppress=-1,-2", "--alphas", "0,1", "--mix", "none", "--emotions", "joy,fear"], env);
    if (options === "help") throw new Error("unexpected help");
    expect(options.suppress).toEqual([-1, -2]);
    const queries = [{ id: "q1", text: "How do I bake bread?", emotion: "joy" }] as never;
    const cells = planCells({ model: "m", backend: "b", options, emotions: ["joy", "fear"], queries, setupHash: "s" }, null, true);
    const conditions = cells.map((c) => c.key.condition);
    expect(conditions).toEqual([
      "none",
      "ev:joy@1",
      "ev:fear@1",
      "prompt:joy",
      "prompt:fear",
      "prompt:joy+ev:joy@-1",
      "prompt:joy+ev:joy@-2",
      "prompt:fear+ev:fear@-1",
      "prompt:fear+ev:fear@-2",
    ]);
    const suppressed = cells.find((c) => c.key.condition === "prompt:joy+ev:joy@-1")!;
    expect(suppressed.key).toMatchObject({ extraction: "mean-diff", corpus: "fixed" });
    expect(conditionKey({ method: "prompt", emotion: "joy" })).toBe("prompt:joy");
    // Not steerable (an engine without steering): no prompt + EV cells.
    expect(
      planCells({ model: "m", backend: "b", options, emotions: ["joy"], queries, setupHash: "s" }, null, false).map((c) => c.key.condition),
    ).toEqual(["none", "prompt:joy"]);
  });

  it("refuses --suppress without the prompt baseline, and α = 0", () => {
    expect(() => parseBenchArgs(["--suppress=-1", "--no-baseline"], env)).toThrow(/drop --no-baseline/);
    expect(() => parseBenchArgs(["--suppress", "0"], env)).toThrow(/non-zero α/);
  });

  it("pairs each prompt + EV answer with the prompt-only answer to the same query", () => {
    const prompt = (q: string, joy: number, eas: number) =>
      storedCell(q, "prompt:joy", `p ${q}`, {
        method: "prompt",
        weights: { joy: 1 },
        extraction: "-",
        corpus: "-",
        judge: { joy },
        lexicon: { joy: eas },
      });
    const steered = (q: string, joy: number, eas: number, fidelity: number) =>
      storedCell(q, "prompt:joy+ev:joy@-1", `s ${q}`, {
        method: "prompt-ev",
        weights: { joy: -1 },
        judge: { joy },
        lexicon: { joy: eas },
        fidelity,
      });
    const cells = [
      storedCell("q1", "none", "u1", { judge: { joy: 0.2 } }),
      storedCell("q2", "none", "u2", { judge: { joy: 0.4 } }),
      prompt("q1", 0.8, 10),
      prompt("q2", 0.6, 6),
      steered("q1", 0.2, 2, 0.7),
      steered("q2", 0.3, 4, 0.5),
      // A steered answer whose prompt-only answer is missing is left out.
      steered("q3", 0.9, 9, 0.9),
    ];
    const [row, ...rest] = summarizeSuppression(cells, ["joy", "fear"]);
    expect(rest).toEqual([]);
    expect(row).toMatchObject({ emotion: "joy", alpha: -1, n: 2 });
    expect(row!.eps_prompt).toBeCloseTo(0.7);
    expect(row!.eps).toBeCloseTo(0.25);
    expect(row!.eps_change_pct).toBeCloseTo((100 * (0.25 - 0.7)) / 0.7);
    expect(row!.eps_unsteered).toBeCloseTo(0.3);
    expect(row!.eas_change_pct).toBeCloseTo((100 * (3 - 8)) / 8);
    expect(row!.fidelity_to_prompt).toBeCloseTo(0.6);
  });
});
