/**
 * Writes benchmarks/judge.md, benchmarks/judge.json and benchmarks/plots/judge-reliability.svg:
 * `pnpm --filter @emosteer/eval judge:report` retrains v2 on all data present (GoEmotions + ISEAR from
 * the data folder, packages/eval/data/indomain/train) and rewrites packages/eval/judges/v2.judge first;
 * `-- --no-retrain` scores the committed judge file as it is; `-- --speed-only` re-times the judges of
 * benchmarks/judge.json (same ids) and rewrites only the speed figures of judge.json and judge.md; `-- --markdown-only`
 * re-renders judge.md from judge.json (same ids), measuring nothing.
 */
import { writeJudgeReport } from "../src/judge-report.js";

const retrain = !process.argv.includes("--no-retrain");
const speedOnly = process.argv.includes("--speed-only");
const markdownOnly = process.argv.includes("--markdown-only");
const started = performance.now();
const results = await writeJudgeReport({ retrain, speedOnly, markdownOnly, onProgress: (p) => console.error(`[judge] ${p.message}`) });
for (const r of results) {
  console.log(
    `${r.name} ${r.id.slice(0, 12)}: in-domain dev macro-F1 ${r.indomain_dev.macro_f1.toFixed(4)} (ECE ${r.indomain_dev.ece.toFixed(4)}), contrast corpus ${r.contrast_corpus.macro_f1.toFixed(4)}, GoEmotions dev ${r.goemotions_dev.macro_f1.toFixed(4)}, ISEAR held-out ${r.isear_heldout.macro_f1.toFixed(4)}, ${r.throughput.texts_per_s.toFixed(0)} texts/s`,
  );
}
console.log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
