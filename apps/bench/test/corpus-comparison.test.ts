import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmotionVector, type ModelInfo } from "@emosteer/core";
import { saveVectorFile } from "@emosteer/core/node";
import { afterAll, describe, expect, it } from "vitest";
import { buildSummary, writeReport } from "../src/report.js";
import type { RunScope } from "../src/run.js";
import { SqliteBenchStore } from "../src/sqlite-store.js";
import type { BenchStore, CellRecord, ExtractionRecord } from "../src/store.js";
import { storedCell } from "./cell-fixture.js";
import { SUMMARY_ROW_KEYS } from "./summary-row-keys.js";

const work = mkdtempSync(join(tmpdir(), "emosteer-bench-corpora-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const MODEL = "m";
const BACKEND = "llama.cpp";
const scope: RunScope = {
  emotions: ["joy", "sadness"],
  alphas: [-1, 0, 1],
  queryIds: ["q1", "q2"],
  maxTokens: 16,
  seed: 0,
  method: "mean-diff",
  corpus: "fixed",
  corpora: ["fixed", "self"],
  longAlpha: 1,
};

interface Scores {
  /** Judge probability of the target emotion (the rest goes to neutral). */
  readonly p: number;
  /** NRC hits of the target emotion. */
  readonly lex: number;
  readonly fidelity: number;
  readonly perplexity: number;
}

/** A stored cell of `condition` (as the bench names it: "none", "ev:joy@1", "prompt:joy", "mix:…") with the scores `s`. */
function cell(corpus: string, condition: string, queryId: string, s: Scores, over: Partial<CellRecord> = {}): CellRecord {
  const [kind, rest = ""] = condition.split(":");
  const [emotion = "", alpha = "0"] = rest.split("@");
  const method = (kind === "none" ? "none" : kind) as CellRecord["method"];
  const fromVector = method === "ev" || method === "mix";
  return storedCell(queryId, condition, `${condition} ${corpus} ${queryId}`, {
    extraction: fromVector ? "mean-diff" : "-",
    corpus: fromVector ? corpus : "-",
    setupHash: "setup",
    judgeName: "v2",
    method,
    weights: method === "none" ? {} : { [emotion]: Number(alpha) || 1 },
    judge: method === "none" ? { joy: 0.1, sadness: 0.1, neutral: 0.8 } : { [emotion]: s.p, neutral: 1 - s.p },
    lexicon: method === "none" ? { joy: 2, sadness: 2 } : { [emotion]: s.lex },
    perplexity: s.perplexity,
    fidelity: s.fidelity,
    ...over,
  });
}

/** A condition's scores on the two queries: judge p and NRC hits per query, fidelity and perplexity on both. */
function onBoth(p: [number, number], lex: [number, number], fidelity: number, perplexity: number): [Scores, Scores] {
  return [
    { p: p[0], lex: lex[0], fidelity, perplexity },
    { p: p[1], lex: lex[1], fidelity, perplexity },
  ];
}

/** Per corpus, condition and query: the scores the comparison must average. */
const GRID: Record<string, Record<string, [Scores, Scores]>> = {
  fixed: {
    "ev:joy@1": onBoth([0.6, 0.4], [4, 6], 0.8, 5),
    "ev:sadness@1": onBoth([0.8, 0.6], [2, 2], 0.6, 7),
    "ev:joy@-1": onBoth([0.05, 0.05], [1, 1], 0.9, 4),
    "ev:sadness@-1": onBoth([0.15, 0.15], [0, 0], 0.9, 4),
  },
  self: {
    "ev:joy@1": onBoth([0.9, 0.7], [10, 8], 0.5, 9),
    "ev:sadness@1": onBoth([0.2, 0.4], [2, 4], 0.5, 9),
    "ev:joy@-1": onBoth([0.3, 0.3], [2, 2], 0.7, 6),
    "ev:sadness@-1": onBoth([0.6, 0.2], [1, 1], 0.7, 6),
  },
};
const FAR: Scores = { p: 0, lex: 100, fidelity: 0, perplexity: 1000 };

function extraction(
  corpus: string,
  emotion: string,
  seconds: number,
  vectorPath: string,
  createdAt = "2026-01-01T00:00:00.000Z",
): ExtractionRecord {
  return {
    model: MODEL,
    backend: BACKEND,
    extraction: "mean-diff",
    corpus,
    corpusHash: `${corpus}-hash`,
    emotion,
    seconds,
    queries: 4,
    vectorPath,
    createdAt,
  };
}

const identity: ModelInfo = {
  architecture: "llama",
  name: "tiny",
  layerCount: 4,
  hiddenSize: 3,
  vocabSize: 10,
  contextLength: 64,
  fingerprint: "0123456789abcdef",
};

/** Layers 1..3 of a 4-layer, 3-wide vector (layer 0 is always zero). */
async function vectorFile(name: string, emotion: string, corpus: string, layers: [number[], number[], number[]]): Promise<string> {
  const path = join(work, "vectors", `${name}.gguf`);
  const vector = new EmotionVector({
    emotion,
    model: identity,
    directions: [new Float32Array(3), ...layers.map((l) => Float32Array.from(l))],
    provenance: {
      method: "mean-diff",
      settings: {},
      samples: 4,
      corpus,
      corpusHash: `${corpus}-hash`,
      backend: BACKEND,
      createdAt: "2026-01-01T00:00:00.000Z",
    },
  });
  await saveVectorFile(path, vector);
  return path;
}

/** A database as a `--corpora fixed,self` run leaves it, plus cells the comparison must not read. */
async function syntheticStore(
  path: string,
  options: { readonly vectors: boolean; readonly corpora?: readonly string[] },
): Promise<BenchStore> {
  const store = await SqliteBenchStore.open(path);
  for (const q of [0, 1] as const) {
    const queryId = scope.queryIds[q]!;
    await store.putCell(cell("-", "none", queryId, { p: 0, lex: 0, fidelity: 1, perplexity: 4 }));
    await store.putCell(cell("-", "prompt:joy", queryId, FAR));
    for (const [corpus, conditions] of Object.entries(GRID))
      for (const [condition, scores] of Object.entries(conditions)) await store.putCell(cell(corpus, condition, queryId, scores[q]));
    // Outside the comparison: the mix (primary corpus only), another token budget, another method.
    await store.putCell({ ...cell("fixed", "mix:joy@1+sadness@1", queryId, FAR), weights: { joy: 1, sadness: 1 } });
    await store.putCell(cell("self", "ev:joy@1", queryId, FAR, { maxTokens: 32 }));
    await store.putCell(cell("self", "ev:joy@1", queryId, FAR, { extraction: "pca" }));
  }
  const files = options.vectors
    ? {
        fixedJoy: await vectorFile("fixed-joy", "joy", "fixed", [
          [1, 0, 0],
          [1, 0, 0],
          [0, 1, 0],
        ]),
        selfJoy: await vectorFile("self-joy", "joy", "self", [
          [0, 1, 0],
          [1, 1, 0],
          [0, 1, 0],
        ]),
        fixedSad: await vectorFile("fixed-sadness", "sadness", "fixed", [
          [1, 2, 3],
          [0, 0, 1],
          [1, 0, 0],
        ]),
        selfSad: await vectorFile("self-sadness", "sadness", "self", [
          [2, 4, 6],
          [0, 0, -1],
          [-1, 0, 0],
        ]),
      }
    : { fixedJoy: "", selfJoy: "", fixedSad: "", selfSad: "" };
  await store.putExtraction(extraction("fixed", "joy", 12.5, files.fixedJoy));
  await store.putExtraction(extraction("fixed", "sadness", 12.5, files.fixedSad));
  await store.putExtraction(extraction("self", "joy", 30.25, files.selfJoy, "2026-01-02T00:00:00.000Z"));
  await store.putExtraction(extraction("self", "sadness", 30.25, files.selfSad, "2026-01-02T00:00:00.000Z"));
  // An older self extraction (other corpus hash): the latest one is reported.
  await store.putExtraction({ ...extraction("self", "joy", 99, files.fixedJoy), corpusHash: "older" });
  const runScope = options.corpora ? { ...scope, corpora: options.corpora } : (({ corpora, ...rest }) => rest)(scope);
  await store.startRun({
    runId: "r1",
    startedAt: "2026-01-02T00:00:00Z",
    options: { models: [MODEL], backends: [BACKEND], argv: ["--corpora", "fixed,self"], scope: runScope },
    skipped: [],
    provenance: null,
  });
  await store.finishRun("r1", "2026-01-02T01:00:00Z");
  return store;
}

describe("report: contrast corpus comparison", () => {
  it("computes each corpus's figures from its own EV cells and the shared unsteered cells", async () => {
    const store = await syntheticStore(join(work, "both.sqlite"), { vectors: true, corpora: ["fixed", "self"] });
    const summary = await buildSummary(store);
    await store.close();

    expect(summary.corpus_comparison).toHaveLength(1);
    const comparison = summary.corpus_comparison[0]!;
    expect(comparison).toMatchObject({
      model: MODEL,
      backend: BACKEND,
      method: "mean-diff",
      corpora: ["fixed", "self"],
      emotions: ["joy", "sadness"],
      cosine_note: null,
    });
    const [fixed, self] = comparison.rows;
    const byAlpha = (row: typeof fixed) => Object.fromEntries(row!.by_alpha.map((x) => [x.alpha, [x.eps, x.hit_rate]]));
    // fixed: EPS@1 = mean(joy 0.5, sadness 0.7); hit@1 = mean(0.5, 1); EPS@−1 = mean(0.05, 0.15).
    expect(fixed).toMatchObject({ corpus: "fixed", primary: true, n: 2, extraction_seconds: 12.5, extraction_queries: 4 });
    expect(byAlpha(fixed)[1]![0]).toBeCloseTo(0.6, 12);
    expect(byAlpha(fixed)[1]![1]).toBeCloseTo(0.75, 12);
    expect(byAlpha(fixed)[-1]![0]).toBeCloseTo(0.1, 12);
    expect(byAlpha(fixed)[-1]![1]).toBe(0);
    // ΔEAS against the unsteered EAS 2: joy (5 − 2)/2 = 150 %, sadness 0 % → 75 %; at −1: −50 %, −100 % → −75 %.
    expect(fixed!.eas_delta_pct_plus1).toBeCloseTo(75, 9);
    expect(fixed!.eas_delta_pct_minus1).toBeCloseTo(-75, 9);
    expect(fixed!.fidelity_at_1).toBeCloseTo(0.7, 12);
    expect(fixed!.perplexity_at_1).toBeCloseTo(6, 12);
    // self: EPS@1 = mean(0.8, 0.3); hit@1 = mean(1, 0); EPS@−1 = mean(0.3, 0.4), hit@−1 = mean(0, 0.5).
    expect(self).toMatchObject({ corpus: "self", primary: false, n: 2, extraction_seconds: 30.25, extraction_queries: 4 });
    expect(byAlpha(self)[1]![0]).toBeCloseTo(0.55, 12);
    expect(byAlpha(self)[1]![1]).toBeCloseTo(0.5, 12);
    expect(byAlpha(self)[-1]![0]).toBeCloseTo(0.35, 12);
    expect(byAlpha(self)[-1]![1]).toBeCloseTo(0.25, 12);
    expect(self!.eas_delta_pct_plus1).toBeCloseTo(200, 9); // joy 350 %, sadness 50 %
    expect(self!.eas_delta_pct_minus1).toBeCloseTo(-25, 9); // joy 0 %, sadness −50 %
    expect(self!.fidelity_at_1).toBeCloseTo(0.5, 12);
    expect(self!.perplexity_at_1).toBeCloseTo(9, 12);
    // α = 0 is the shared unsteered answers: the same for both corpora.
    expect(byAlpha(fixed)[0]).toEqual(byAlpha(self)[0]);
    expect(byAlpha(fixed)[0]![0]).toBeCloseTo(0.1, 12);

    // Cosines at the middle layer (2 of 4) and the mean over layers 1..3.
    const cos = Object.fromEntries(comparison.cosines!.map((c) => [c.emotion, c]));
    expect(cos.joy).toMatchObject({ layer: 2 });
    expect(cos.joy!.cosine_at_layer).toBeCloseTo(Math.SQRT1_2, 6);
    expect(cos.joy!.cosine_mean_over_layers).toBeCloseTo((0 + Math.SQRT1_2 + 1) / 3, 6);
    expect(cos.sadness!.cosine_at_layer).toBeCloseTo(-1, 6);
    expect(cos.sadness!.cosine_mean_over_layers).toBeCloseTo((1 - 1 - 1) / 3, 6);

    // The main table and summary rows stay on the primary corpus: same fields, fixed figures only.
    expect(new Set(summary.rows.map((r) => r.corpus))).toEqual(new Set(["fixed"]));
    const joyAt1 = summary.rows.find((r) => r.method === "ev" && r.emotion === "joy" && r.alpha === 1)!;
    expect(joyAt1.eps).toBeCloseTo(0.5, 12);
    expect(Object.keys(joyAt1).sort()).toEqual([...SUMMARY_ROW_KEYS].sort());
    // Both corpora's extraction times are in the extraction table.
    expect(summary.extraction.map((e) => [e.corpus, e.seconds]).sort()).toEqual([
      ["fixed", 12.5],
      ["self", 30.25],
      ["self", 99],
    ]);
  });

  it("writes the section into REPORT.md with both corpora's rows and the cosines", async () => {
    const store = await syntheticStore(join(work, "report.sqlite"), { vectors: true, corpora: ["fixed", "self"] });
    const files = await writeReport(store, join(work, "report"));
    await store.close();
    const report = readFileSync(files.report, "utf8");
    const section = report.split("## Contrast corpus: fixed vs self-written")[1]!.split("\n## ")[0]!;
    expect(section).toContain("only the source of the vectors differs");
    // EPS@−1, @0, @1, hit@−1, @0, @1, ΔEAS ±1, fidelity@1, perplexity@1, extraction.
    expect(section).toContain(
      "| m | llama.cpp | fixed (primary) | joy, sadness | 2 | 0.10 | 0.10 | 0.60 | 0.00 | 0.00 | 0.75 | +75 % | -75 % | 0.70 | 6.0 | 12.5 (4 pairs) |",
    );
    expect(section).toContain(
      "| m | llama.cpp | self | joy, sadness | 2 | 0.35 | 0.10 | 0.55 | 0.25 | 0.00 | 0.50 | +200 % | -25 % | 0.50 | 9.0 | 30.3 (4 pairs) |",
    );
    expect(section).toContain("| m | llama.cpp | joy | fixed · self | 2 | 0.707 | 0.569 |");
    expect(section).toContain("| m | llama.cpp | sadness | fixed · self | 2 | -1.000 | -0.333 |");
    // The main table is the primary corpus's: EPS@1 = 0.60, not self's 0.55.
    const main = report.split("## Main table")[1]!.split("\n## ")[0]!;
    expect(main).toMatch(/\| m \| llama\.cpp \| 0\.10 \| 0\.10 \| 0\.60 \|/);
  }, 60_000);

  it("notes instead of cosines when no vector file is recorded, and has no section for one-corpus runs", async () => {
    const store = await syntheticStore(join(work, "no-files.sqlite"), { vectors: false, corpora: ["fixed", "self"] });
    const summary = await buildSummary(store);
    await store.close();
    expect(summary.corpus_comparison[0]!.cosines).toBeNull();
    expect(summary.corpus_comparison[0]!.cosine_note).toMatch(/no vector file of joy \(fixed corpus\)/);
    expect(summary.corpus_comparison[0]!.rows[1]!.by_alpha.find((x) => x.alpha === 1)!.eps).toBeCloseTo(0.55, 12);

    // A run stored before --corpora existed (scope without `corpora`): one corpus, no comparison.
    const old = await syntheticStore(join(work, "old.sqlite"), { vectors: false });
    const oldSummary = await buildSummary(old);
    const files = await writeReport(old, join(work, "old-report"));
    await old.close();
    expect(oldSummary.corpus_comparison).toEqual([]);
    expect(oldSummary.extraction.every((e) => e.corpus === "fixed")).toBe(true);
    expect(readFileSync(files.report, "utf8")).not.toContain("## Contrast corpus");
  }, 60_000);
});
