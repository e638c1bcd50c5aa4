import { describe, expect, it } from "vitest";
import { compareQuerySets } from "../src/generalisation.js";
import { generalisationMarkdown } from "../src/generalisation-render.js";
import type { CellRecord } from "../src/store.js";
import { storedCell } from "./cell-fixture.js";

/** A set of `n` queries: unsteered cells reading joy at `base`, joy α = 1 and 2 cells reading `steered(α, i)`. */
function querySet(prefix: string, n: number, base: number, steered: (alpha: number, i: number) => number): CellRecord[] {
  const cells: CellRecord[] = [];
  for (let i = 0; i < n; i++) {
    const q = `${prefix}-${String(i).padStart(3, "0")}`;
    cells.push(storedCell(q, "none", undefined, { judge: { joy: base, neutral: 1 - base } }));
    for (const alpha of [1, 2]) {
      const p = steered(alpha, i);
      cells.push(storedCell(q, `ev:joy@${alpha}`, undefined, { weights: { joy: alpha }, judge: { joy: p, neutral: 1 - p } }));
    }
  }
  return cells;
}

describe("in-sample against new-query figures", () => {
  it("pairs each condition across the two sets and pools the steered ones", () => {
    // In-sample joy EPS 0.6 (α 1) and 0.9 (α 2) with a query-to-query spread; new queries 0.1 lower.
    const spread = (i: number) => ((i % 5) - 2) * 0.05;
    const inSample = querySet("joy", 40, 0.2, (alpha, i) => (alpha === 1 ? 0.6 : 0.9) + spread(i));
    const fresh = querySet("new", 40, 0.1, (alpha, i) => (alpha === 1 ? 0.5 : 0.8) + spread(i));
    const { rows, headlines } = compareQuerySets(inSample, fresh, { emotions: ["joy", "anger"] });
    const joy = rows.filter((r) => r.emotion === "joy");
    expect(joy.map((r) => [r.method, r.alpha])).toEqual([
      ["none", 0],
      ["ev", 1],
      ["ev", 2],
    ]);
    for (const r of joy) {
      expect(r.eps_difference).toBeCloseTo(-0.1, 10);
      expect(r.n_in_sample).toBe(40);
      expect(r.n_new).toBe(40);
      expect(r.eps_difference_ci[0]).toBeLessThanOrEqual(r.eps_difference);
      expect(r.eps_difference_ci[1]).toBeGreaterThanOrEqual(r.eps_difference);
    }
    // The unsteered cells are read for every emotion asked about; anger has no EV cell on either set.
    expect(rows.filter((r) => r.emotion === "anger").map((r) => r.method)).toEqual(["none"]);
    expect(headlines).toHaveLength(1);
    expect(headlines[0]).toMatchObject({ model: "m", backend: "llama.cpp", conditions: 2, tolerance: 0.05, within_tolerance: false });
    expect(headlines[0]!.mean_difference).toBeCloseTo(-0.1, 10);
    expect(headlines[0]!.mean_difference_ci[1]).toBeLessThan(-0.05);
  });

  it("meets the target when the sets agree within the tolerance", () => {
    const spread = (i: number) => ((i % 4) - 1.5) * 0.02;
    const inSample = querySet("joy", 60, 0.2, (alpha, i) => 0.3 * alpha + spread(i));
    const fresh = querySet("new", 60, 0.2, (alpha, i) => 0.3 * alpha + spread(i + 1));
    const { headlines } = compareQuerySets(inSample, fresh, { emotions: ["joy"] });
    expect(Math.abs(headlines[0]!.mean_difference)).toBeLessThan(0.01);
    expect(headlines[0]!.within_tolerance).toBe(true);
  });

  it("skips engines the new set lacks and renders a table per engine", () => {
    const inSample = [...querySet("joy", 5, 0.2, () => 0.5), ...querySet("joy", 5, 0.2, () => 0.5).map((c) => ({ ...c, backend: "onnx" }))];
    const fresh = querySet("new", 5, 0.2, () => 0.4);
    const result = compareQuerySets(inSample, fresh, { emotions: ["joy"] });
    expect(new Set(result.rows.map((r) => r.backend))).toEqual(new Set(["llama.cpp"]));
    const md = generalisationMarkdown(
      {
        command: "pnpm bench generalisation --db a --new-db b",
        judge: { id: "0123456789abcdef0123", name: "v2" },
        inSample: { db: "a", queries: 5, note: null, argv: ["--query-set", "evaluation", "--note", "a b"], loadAverage: [1, 2, 3] },
        newQueries: { db: "b", queries: 5, note: "plain", argv: null, loadAverage: null },
      },
      result,
    );
    expect(md).toContain("| m | llama.cpp | 2 | −0.100 |");
    expect(md).toContain("## m on llama.cpp");
    expect(md).toContain('- In-sample run: `pnpm bench --query-set evaluation --note "a b"`');
    expect(md).toContain("- New-query run: plain");
    expect(md).not.toContain("## m on onnx");
    expect(md).toContain("| joy | EV α = 2 | 0.500 | 0.400 | −0.100");
  });
});
