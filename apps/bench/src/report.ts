import { join } from "node:path";
import { writeFileAtomic } from "@emosteer/core/node";
import { benchPlots } from "./plots.js";
import { renderReport } from "./render.js";
import type { BenchStore } from "./store.js";
import { buildSummaryWithCells, latestRun, type ReportFiles } from "./summary.js";

export { buildSummary, type BenchSummary, type EngineScope, type JudgeComparison, type ReportFiles, type RunSummary } from "./summary.js";

/**
 * Writes `REPORT.md`, `summary.json` and `plots/*.svg` under `outDir` from the database. Each model
 * and backend is reported with the scope (emotions, α, queries, tokens, seed, method, corpus) of
 * the latest run that included it, so runs of different models with different grids share one
 * report. Every file is written atomically.
 */
export async function writeReport(store: BenchStore, outDir: string, options: { readonly note?: string } = {}): Promise<ReportFiles> {
  const latest = await latestRun(store);
  if (!latest) throw new Error(`The bench database ${store.path} holds no run: run \`pnpm bench\` first.`);
  const run = options.note ? { ...latest, note: options.note } : latest;
  const { summary, cells } = await buildSummaryWithCells(store, run);
  const plots = await benchPlots(summary.rows, summary.latency, summary.vector_maps);
  const plotPaths: string[] = [];
  for (const plot of plots) {
    const path = join(outDir, "plots", plot.file);
    await writeFileAtomic(path, plot.svg);
    plotPaths.push(path);
  }
  const summaryPath = join(outDir, "summary.json");
  await writeFileAtomic(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  const reportPath = join(outDir, "REPORT.md");
  await writeFileAtomic(
    reportPath,
    renderReport(
      summary,
      cells,
      plots.map((p) => ({ file: p.file, title: p.title })),
      run,
    ),
  );
  return { report: reportPath, summary: summaryPath, plots: plotPaths };
}
