import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CORE_EMOTIONS } from "@emosteer/core";
import { writeFileAtomic } from "@emosteer/core/node";
import { compareQuerySets } from "./generalisation.js";
import { generalisationJson, generalisationMarkdown, type QuerySetSource } from "./generalisation-render.js";
import type { BenchStore, CellRecord } from "./store.js";
import { openStore } from "./store.js";
import { latestRun, reportJudge } from "./summary.js";

export const GENERALISATION_USAGE = `Usage: pnpm bench generalisation --db IN_SAMPLE --new-db NEW [--out DIR]
  in-sample against new-query figures: two databases of the same grid, one run with the built-in evaluation
  split, one with --query-set new; writes DIR/GENERALISATION.md and DIR/generalisation.json (default DIR: benchmarks/)`;

/** `pnpm bench generalisation`: compares the latest run of two databases, judged by the same judge. */
export async function generalisationCommand(argv: readonly string[], cwd: string): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { db: { type: "string" }, "new-db": { type: "string" }, out: { type: "string" }, help: { type: "boolean" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${GENERALISATION_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${GENERALISATION_USAGE}\n`);
    return 0;
  }
  if (!values.db || !values["new-db"]) {
    process.stderr.write(`pnpm bench generalisation: needs --db and --new-db.\n${GENERALISATION_USAGE}\n`);
    return 2;
  }
  for (const db of [values.db, values["new-db"]])
    if (!db.includes("://") && !existsSync(resolve(cwd, db))) {
      process.stderr.write(`pnpm bench generalisation: no database ${resolve(cwd, db)}: run the grid into it first.\n`);
      return 2;
    }
  const open = (db: string) => openStore(db.includes("://") ? db : resolve(cwd, db), { readonly: true });
  const inStore = await open(values.db);
  const newStore = await open(values["new-db"]);
  try {
    const judge = await reportJudge(inStore);
    const newJudge = await reportJudge(newStore);
    if (judge.id !== newJudge.id) {
      process.stderr.write(
        `The two databases are scored by different judges (${judge.name} ${judge.id.slice(0, 12)}… and ${newJudge.name} ${newJudge.id.slice(0, 12)}…): run \`pnpm bench --rejudge --db …\` on the older one first.\n`,
      );
      return 2;
    }
    const inSample = await latestCells(inStore, judge.id);
    const newQueries = await latestCells(newStore, judge.id);
    const result = compareQuerySets(inSample.cells, newQueries.cells, { emotions: CORE_EMOTIONS });
    if (result.rows.length === 0) {
      process.stderr.write("The two databases share no engine and condition: run the same grid into both (only --query-set differs).\n");
      return 2;
    }
    const out = resolve(cwd, values.out ?? "benchmarks");
    const inDb = tildePath(values.db);
    const newDb = tildePath(values["new-db"]);
    const setup = {
      command: `pnpm bench generalisation --db ${inDb} --new-db ${newDb}${values.out ? ` --out ${values.out}` : ""}`,
      judge,
      inSample: { ...inSample.source, db: inDb },
      newQueries: { ...newQueries.source, db: newDb },
    };
    await writeFileAtomic(join(out, "GENERALISATION.md"), generalisationMarkdown(setup, result));
    await writeFileAtomic(join(out, "generalisation.json"), generalisationJson(setup, result));
    for (const h of result.headlines)
      process.stderr.write(
        `${h.model}/${h.backend}: EPS new − in-sample over ${h.conditions} steered conditions ${h.mean_difference.toFixed(3)} [${h.mean_difference_ci[0].toFixed(3)}, ${h.mean_difference_ci[1].toFixed(3)}]\n`,
      );
    process.stderr.write(`wrote ${join(out, "GENERALISATION.md")} and generalisation.json\n`);
    return 0;
  } finally {
    await inStore.close();
    await newStore.close();
  }
}

/** A path under the home directory as `~/…`, so the committed files name no one's home. */
function tildePath(path: string): string {
  const home = homedir();
  return path === home || path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}

/** The cells of the database's latest run (its queries, α grid and token budget), with that judge's scores. */
async function latestCells(store: BenchStore, judgeId: string): Promise<{ cells: CellRecord[]; source: Omit<QuerySetSource, "db"> }> {
  const run = await latestRun(store);
  if (!run) throw new Error(`The bench database ${store.path} holds no run: run \`pnpm bench\` into it first.`);
  const queries = new Set(run.scope.queryIds);
  const cells = (await store.cells({ judgeId })).filter(
    (c) =>
      queries.has(c.queryId) &&
      c.maxTokens === run.scope.maxTokens &&
      c.seed === run.scope.seed &&
      (c.method !== "ev" || c.corpus === run.scope.corpus),
  );
  return {
    cells,
    source: {
      queries: new Set(cells.map((c) => c.queryId)).size,
      note: run.note,
      argv: run.argv ? run.argv.map(tildePath) : null,
      loadAverage: run.provenance?.machine.loadAverage ?? null,
    },
  };
}
