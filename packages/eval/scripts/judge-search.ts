/**
 * Searches the settings that decide how v2 reads GoEmotions (class balancing, in-domain weight, per-class
 * logit offsets) on held-out parts of the TRAINING data only, never on dev:
 * - a GoEmotions-train holdout (15 % of the train rows by a hash of their id, out of every model here);
 * - leave-one-writer-out on the in-domain train split (writers ta, tb, tc, td in turn; te, 60 anger answers,
 *   always trains).
 * Each fold model trains without the holdout and without one writer, and scores both. Offsets are judged
 * nested: tuned on half the GoEmotions holdout and two writers, scored on the other half and the other two.
 * `pnpm --filter @emosteer/eval judge:search` → benchmarks/judge-search.json (and a table on stdout).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "@emosteer/core/node";
import { JUDGE_LABELS } from "../src/data.js";
import {
  fitTemperature,
  type JudgeSettings,
  prepareJudgeTraining,
  stableHash,
  tuneOffsetsOnLogits,
  V2_JUDGE_SETTINGS,
} from "../src/judge.js";
import { scoreSet } from "../src/judge-report.js";
import { linearLogits, softmaxInPlace, trainSoftmaxRegression } from "../src/judge-training.js";
import { repoRoot } from "../src/paths.js";

const K = JUDGE_LABELS.length;
const HOLDOUT = 0.15;
const FOLD_WRITERS = ["ta", "tb", "tc", "td"];
const base: JudgeSettings = { ...V2_JUDGE_SETTINGS };
// Session 6 ran configurations 0 to 3 (benchmarks/judge-search.json; one process per configuration: `-- --only N`); 4 was
// not run for lack of time on a machine at load 20+.
const grid: Record<string, JudgeSettings> = {
  "v2 as committed (in-domain 36, pooled class weights)": base,
  "class weights by source, in-domain 36": { ...base, classBalanceBySource: true },
  "class weights by source, in-domain 18": { ...base, classBalanceBySource: true, inDomainWeight: 18 },
  "pooled class weights, in-domain 18": { ...base, inDomainWeight: 18 },
  "class weights by source, in-domain 9": { ...base, classBalanceBySource: true, inDomainWeight: 9 },
};
const only = process.argv.indexOf("--only");
const names = Object.keys(grid).filter((_, i) => only < 0 || process.argv[only + 1]!.split(",").includes(String(i)));
const outPath = join(
  repoRoot,
  "benchmarks",
  process.argv.includes("--out") ? process.argv[process.argv.indexOf("--out") + 1]! : "judge-search.json",
);

interface Held {
  logits: Float64Array;
  labels: readonly number[];
  weight: number;
  style?: string;
  writer?: string;
  half?: number;
}

const softmax = (l: Float64Array, offsets?: ArrayLike<number>, t = 1) => {
  const p = Float64Array.from(l, (v, c) => v / t + (offsets?.[c] ?? 0) / t);
  softmaxInPlace(p);
  return p;
};
function inDomainScores(rows: readonly Held[], offsets?: ArrayLike<number>, t = 1) {
  const s = scoreSet(
    rows.map((r) => r.labels),
    rows.map((r) => softmax(r.logits, offsets, t)),
  );
  const recall = (style: string) => {
    const sub = rows.filter((r) => r.style === style);
    return scoreSet(
      sub.map((r) => r.labels),
      sub.map((r) => softmax(r.logits, offsets, t)),
    ).per_class_recall;
  };
  return {
    macro_f1: s.macro_f1,
    ece: s.ece,
    neutral_as_emotion: s.neutral_as_emotion,
    mild_recall: recall("mild"),
    strong_recall: recall("strong"),
  };
}
const goScores = (rows: readonly Held[], offsets?: ArrayLike<number>) => {
  const s = scoreSet(
    rows.map((r) => r.labels),
    rows.map((r) => softmax(r.logits, offsets)),
  );
  return { macro_f1: s.macro_f1, per_class_f1: s.per_class_f1, neutral_as_emotion: s.neutral_as_emotion };
};

const results: Record<string, unknown> = {};
for (const name of names) {
  const settings = grid[name]!;
  const started = performance.now();
  const prepared = await prepareJudgeTraining({ settings, onProgress: (p) => console.error(`[search ${name}] ${p.message}`) });
  const { rows, examples } = prepared;
  const training = settings.classBalanceBySource ? { ...settings.training, classWeightPower: 0 } : settings.training;
  const inHoldout = rows.map((r) => r.source === "goemotions" && (stableHash(`goemotions holdout ${r.id}`) % 10_000) / 10_000 < HOLDOUT);
  const inDomain: Held[] = [];
  const go: Held[][] = [];
  for (const writer of FOLD_WRITERS) {
    const fit = examples.filter((_, i) => !inHoldout[i] && rows[i]!.writer !== writer);
    const model = trainSoftmaxRegression(fit, prepared.features, K, training);
    const logitsOf = (i: number) => {
      const out = new Float64Array(K);
      linearLogits(model, examples[i]!.x, K, out);
      return out;
    };
    const g: Held[] = [];
    rows.forEach((r, i) => {
      if (r.writer === writer) inDomain.push({ logits: logitsOf(i), labels: r.labels, weight: r.weight, style: r.style, writer });
      if (inHoldout[i]) g.push({ logits: logitsOf(i), labels: r.labels, weight: 1, half: stableHash(`half ${r.id}`) % 2 });
    });
    go.push(g);
    console.error(`[search ${name}] fold ${writer}: ${fit.length} rows, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  const t = fitTemperature(
    inDomain.map((r) => r.logits),
    inDomain.map((r) => ({
      target: Float32Array.from(JUDGE_LABELS, (_, c) => (r.labels.includes(c) ? 1 / r.labels.length : 0)),
      weight: r.weight,
      x: { indices: new Int32Array(), values: new Float32Array() },
    })),
    K,
  );
  const plain = {
    goemotions_holdout: FOLD_WRITERS.map((_, f) => goScores(go[f]!)),
    indomain_lowo: inDomainScores(inDomain, undefined, t),
  };
  // Nested offsets: tune on (GoEmotions half h, writers of group h), score on the other half and writers.
  const groups = [
    ["ta", "tb"],
    ["tc", "td"],
  ];
  const nested = [0, 1].map((h) => {
    const tuneGo = go.flatMap((g) => g.filter((r) => r.half === h));
    const tuneId = inDomain.filter((r) => groups[h]!.includes(r.writer!));
    const testGo = go.flatMap((g) => g.filter((r) => r.half !== h));
    const testId = inDomain.filter((r) => !groups[h]!.includes(r.writer!));
    const out: Record<string, unknown> = {};
    for (const objective of ["sum", "goemotions"] as const) {
      const offsets = tuneOffsetsOnLogits(
        [
          { logits: tuneGo.map((r) => r.logits), gold: tuneGo.map((r) => r.labels), classes: [0, 1, 2, 3, 4, 5, 6] },
          ...(objective === "sum"
            ? [{ logits: tuneId.map((r) => r.logits), gold: tuneId.map((r) => r.labels), classes: [0, 1, 2, 3, 4, 5] }]
            : []),
        ],
        K,
      );
      out[objective] = {
        offsets: Array.from(offsets, (v) => Number(v.toFixed(2))),
        goemotions_holdout: goScores(testGo, offsets),
        goemotions_holdout_without: goScores(testGo),
        indomain_lowo: inDomainScores(testId, offsets, t),
        indomain_lowo_without: inDomainScores(testId, undefined, t),
      };
    }
    return out;
  });
  results[name] = { settings, temperature: t, plain, nested, seconds: (performance.now() - started) / 1000 };
  const f = (x: number) => x.toFixed(3);
  console.log(
    `${name}: GoEmotions holdout ${plain.goemotions_holdout.map((g) => f(g.macro_f1)).join("/")}, in-domain LOWO ${f(plain.indomain_lowo.macro_f1)} ECE ${f(plain.indomain_lowo.ece)} neutral→emotion ${f(plain.indomain_lowo.neutral_as_emotion ?? 0)}, mild ${JSON.stringify(plain.indomain_lowo.mild_recall)}`,
  );
  for (const [h, n] of nested.entries())
    for (const [objective, r] of Object.entries(n) as [
      string,
      {
        offsets: number[];
        goemotions_holdout: { macro_f1: number };
        goemotions_holdout_without: { macro_f1: number };
        indomain_lowo: { macro_f1: number; mild_recall: unknown };
        indomain_lowo_without: { macro_f1: number };
      },
    ][])
      console.log(
        `  offsets (${objective}) tuned on half ${h}: ${r.offsets.join(" ")} → GoEmotions ${f(r.goemotions_holdout_without.macro_f1)} → ${f(r.goemotions_holdout.macro_f1)}, in-domain ${f(r.indomain_lowo_without.macro_f1)} → ${f(r.indomain_lowo.macro_f1)}, mild ${JSON.stringify(r.indomain_lowo.mild_recall)}`,
      );
  // Merge with the results already in the file (each configuration may run in its own process).
  const stored = existsSync(outPath) ? (JSON.parse(readFileSync(outPath, "utf8")) as { results: Record<string, unknown> }).results : {};
  await writeFileAtomic(
    outPath,
    `${JSON.stringify({ generated_by: "pnpm --filter @emosteer/eval judge:search", holdout_share: HOLDOUT, fold_writers: FOLD_WRITERS, results: { ...stored, ...results } }, null, 2)}\n`,
  );
}
