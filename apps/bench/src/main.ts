import { defaultCacheDir } from "@emosteer/models";
import { BenchUsageError, parseBenchArgs, usage } from "./options.js";
import { formatDuration, ProgressBar } from "./progress.js";
import { writeReport } from "./report.js";
import { rejudgeRun, runBench } from "./run.js";
import type { PostgresBenchStore } from "./postgres-store.js";
import { isPostgresUrl, openStore, StoreFormatError } from "./store.js";

/** `pnpm bench [options]`: runs the grid (resuming a killed run), then writes the report. */
async function main(argv: readonly string[]): Promise<number> {
  const worker = argv[0] === "worker";
  if (worker) argv = argv.slice(1);
  let options;
  try {
    options = parseBenchArgs(argv, { cacheDir: defaultCacheDir(), cwd: process.env.INIT_CWD ?? process.cwd() });
  } catch (error) {
    if (error instanceof BenchUsageError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (options === "help") {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (worker && !isPostgresUrl(options.db)) {
    process.stderr.write(`pnpm bench worker needs a postgres:// --db (the queue lives in PostgreSQL), got "${options.db}".\n`);
    return 2;
  }
  let store;
  try {
    store = await openStore(options.db);
  } catch (error) {
    if (error instanceof StoreFormatError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const progress = new ProgressBar();
  let exitCode = 0;
  try {
    if (worker) {
      const { runWorker } = await import("./distributed.js");
      const result = await runWorker({ vectorCache: options.vectorCache }, store as PostgresBenchStore, progress, abort.signal);
      process.stderr.write(
        `\nworker ${result.worker}: ${result.jobs} job(s), ${result.generated} cell(s) generated, ${result.skipped} already stored, in ${formatDuration(result.seconds)}\n`,
      );
      return 0;
    }
    if (isPostgresUrl(options.db) && !options.reportOnly && !options.rejudge) {
      const { planDistributed } = await import("./distributed.js");
      const planned = await planDistributed(options, store as PostgresBenchStore, progress, {
        leaseSeconds: options.leaseSeconds,
        retryLimit: 5,
      });
      process.stderr.write(
        `enqueued ${planned.jobs} job(s) (${planned.cells} cells) for run ${planned.runId}; run \`pnpm bench worker --db URL\` on each machine, then \`pnpm bench --report-only --db URL\`\n`,
      );
      return 0;
    }
    if (options.rejudge) {
      const result = await rejudgeRun(options, store, progress);
      process.stderr.write(
        `\nre-judged ${result.cells} cell(s) and ${result.longTexts} long text(s) with judge ${result.judge.name} ${result.judge.id}; no text was generated or changed\n`,
      );
    } else if (!options.reportOnly) {
      const result = await runBench(options, store, progress, abort.signal);
      const lines = [
        "",
        `bench run ${result.runId} finished in ${formatDuration(result.seconds)}`,
        `  cells generated now: ${result.generated}; already stored (reused): ${result.reused}; total in database: ${await store.countCells()}`,
        ...result.engines.map((e) => `  ran ${e.model} on ${e.backend} (${formatDuration(e.seconds)})`),
        ...result.skipped.map((s) => `  ${s.failed ? "FAILED" : "skipped"} ${s.model} on ${s.backend}: ${s.reason}`),
      ];
      process.stderr.write(`${lines.join("\n")}\n`);
      if (result.skipped.some((s) => s.failed)) exitCode = 1;
    }
    if (!options.noReport) {
      const files = await writeReport(store, options.out, options.note ? { note: options.note } : {});
      process.stderr.write(
        `report: ${files.report}\nsummary: ${files.summary}\nplots: ${files.plots.length} SVG file(s) in ${options.out}/plots\n`,
      );
      const { readFileSync } = await import("node:fs");
      const report = readFileSync(files.report, "utf8");
      const table = (report.split("## Main table")[1]?.split("\n## ")[0] ?? "").split("\n").filter((line) => line.startsWith("|"));
      if (table.length > 0) process.stdout.write(`${table.join("\n")}\n`);
    }
    return exitCode;
  } catch (error) {
    if (abort.signal.aborted) {
      process.stderr.write("\nbench interrupted: finished cells are stored; run the same command again to resume.\n");
      return 130;
    }
    if (error instanceof BenchUsageError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    await store.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
