import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { defaultCacheDir } from "@emosteer/models";
import { ArchiveFormatError, exportArchive, importArchive } from "./archive.js";
import { generalisationCommand } from "./generalisation-command.js";
import { BenchUsageError, parseBenchArgs, usage } from "./options.js";
import { formatDuration, ProgressBar } from "./progress.js";
import { writeReport } from "./report.js";
import { rejudgeRun, runBench } from "./run.js";
import type { PostgresBenchStore } from "./postgres-store.js";
import { isPostgresUrl, openStore, StoreFormatError } from "./store.js";

/** `pnpm bench [options]`: runs the grid (resuming a killed run), then writes the report. */
async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === "export" || argv[0] === "import") return archiveCommand(argv[0], argv.slice(1));
  if (argv[0] === "generalisation") return generalisationCommand(argv.slice(1), process.env.INIT_CWD ?? process.cwd());
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

const ARCHIVE_USAGE = `pnpm bench export --db PATH|URL --out FILE.jsonl.gz   every text, judgement and record of a database, as one file
pnpm bench import FILE.jsonl.gz --db PATH|URL         that file into a new, empty database (then --rejudge or --report-only)`;

/** \`pnpm bench export\` / \`pnpm bench import\`: a database to and from one gzipped JSON-lines file. */
async function archiveCommand(command: "export" | "import", argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { db: { type: "string" }, out: { type: "string" }, help: { type: "boolean" } },
      allowPositionals: true,
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${ARCHIVE_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${ARCHIVE_USAGE}\n`);
    return 0;
  }
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const file = command === "export" ? values.out : positionals[0];
  if (!values.db || !file || (command === "export" && positionals.length > 0) || (command === "import" && positionals.length !== 1)) {
    process.stderr.write(
      `pnpm bench ${command}: ${command === "export" ? "needs --db and --out" : "needs one archive file and --db"}.\n${ARCHIVE_USAGE}\n`,
    );
    return 2;
  }
  const path = resolve(cwd, file);
  if (command === "import" && !existsSync(path)) {
    process.stderr.write(`pnpm bench import: no file ${path}.\n`);
    return 2;
  }
  const db = isPostgresUrl(values.db) ? values.db : resolve(cwd, values.db);
  const store = await openStore(db, command === "export" ? { readonly: true } : {});
  try {
    const counts = command === "export" ? await exportArchive(store, path) : await importArchive(path, store);
    process.stderr.write(
      `${command === "export" ? `wrote ${path}` : `imported ${path} into ${db}`}: ${counts.cells} cell(s), ${counts.judgements} judgement(s), ${counts.longTexts} long text(s), ${counts.runs} run(s)\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ArchiveFormatError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    await store.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
