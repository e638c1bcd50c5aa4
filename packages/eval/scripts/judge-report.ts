/** Writes benchmarks/judge.md and benchmarks/judge.json: `pnpm --filter @emosteer/eval judge:report`. */
import { writeJudgeReport } from "../src/judge-report.js";

const results = await writeJudgeReport({ onProgress: (p) => console.error(`[judge] ${p.message}`) });
for (const r of results) {
  console.log(`${r.name}: dev macro-F1 ${r.macro_f1_dev.toFixed(4)}, ISEAR held-out ${r.isear_heldout_accuracy.toFixed(4)}, ${r.texts_per_second.toFixed(0)} texts/s`);
}
