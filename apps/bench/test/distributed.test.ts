import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteBenchStore } from "../src/sqlite-store.js";
import { spawnBench, tinyGrid } from "./bench-process.js";

// Two real workers on a local PostgreSQL (.ci/run starts it; EMOSTEER_TEST_POSTGRES names another
// server, as a URL to its maintenance database), one SIGKILLed mid-cell.
const SERVER = process.env.EMOSTEER_TEST_POSTGRES ?? `postgresql://${userInfo().username}@localhost/postgres?host=/var/run/postgresql`;
const BACKEND = process.env.EMOSTEER_TEST_BACKEND ?? "llama.cpp";
const GRID = tinyGrid(BACKEND, { queries: 3, maxTokens: 12, latencyReps: 0, extractionQueries: 4 });
/** 3 queries × (unsteered, joy@1, prompt:joy), in 3 jobs (one per query). */
const TOTAL_CELLS = 9;
/** Short, so the killed worker's job comes back within the test. */
const LEASE_SECONDS = 20;

const work = mkdtempSync(join(tmpdir(), "emosteer-bench-dist-"));
const database = `emosteer_bench_test_${process.pid}`;
const url = (() => {
  const u = new URL(SERVER);
  u.pathname = `/${database}`;
  return u.toString();
})();

async function ok(args: readonly string[]): Promise<string> {
  const result = await spawnBench(args).done;
  if (result.code !== 0) throw new Error(`pnpm bench ${args.join(" ")} exited with ${result.code ?? result.signal}:\n${result.stderr}`);
  return result.stderr;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: SERVER });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `No PostgreSQL at ${SERVER} (${(error as Error).message}): start one (Debian: apt-get install postgresql; pg_ctlcluster 15 main start; a role for this user) as .ci/run does, or set EMOSTEER_TEST_POSTGRES.`,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function query<T>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

describe(`distributed bench: PostgreSQL + pg-boss, 2 workers (smollm2-135m-instruct on ${BACKEND})`, () => {
  beforeAll(async () => {
    await admin((c) => c.query(`CREATE DATABASE ${database}`));
  });
  afterAll(async () => {
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });

  it("stores every cell exactly once with one worker SIGKILLed mid-cell, the killed cell run twice, texts identical to a SQLite run", async () => {
    const planned = await ok([...GRID, "--db", url, "--lease-seconds", String(LEASE_SECONDS)]);
    expect(planned).toMatch(/enqueued 3 job\(s\) \(9 cells\)/);

    const started = performance.now();
    const a = spawnBench(["worker", "--db", url]);
    const b = spawnBench(["worker", "--db", url]);
    // Kill A while it holds an unfinished attempt: it has started a cell and not stored it.
    let killedCell: string | null = null;
    while (killedCell === null) {
      const exited = await Promise.race([a.done, new Promise<null>((r) => setTimeout(() => r(null), 100))]);
      if (exited) throw new Error(`worker A exited (${exited.code ?? exited.signal}) before it could be killed:\n${exited.stderr}`);
      const open = await query<{ cell_id: string }>(
        `SELECT cell_id FROM attempts WHERE worker LIKE '%:${a.child.pid}:%' AND finished_at IS NULL`,
      ).catch(() => []);
      if (open.length > 0) {
        a.child.kill("SIGKILL");
        killedCell = open[0]!.cell_id;
      }
    }
    expect((await a.done).signal).toBe("SIGKILL");
    const bResult = await b.done;
    const seconds = (performance.now() - started) / 1000;
    expect(bResult.code, bResult.stderr).toBe(0);

    const cells = await query<{ cell_id: string; text: string }>("SELECT cell_id, text FROM cells ORDER BY cell_id");
    expect(cells).toHaveLength(TOTAL_CELLS); // cell_id is the primary key: each stored once
    const attempts = await query<{ cell_id: string; worker: string; finished_at: string | null }>(
      "SELECT cell_id, worker, finished_at FROM attempts ORDER BY attempt_id",
    );
    const killed = attempts.filter((x) => x.cell_id === killedCell);
    expect(killed).toHaveLength(2); // ran twice: killed in A, then redelivered
    expect(killed[0]!.finished_at).toBeNull();
    expect(killed[1]!.finished_at).not.toBeNull();
    expect(killed[1]!.worker).not.toBe(killed[0]!.worker);
    for (const c of cells) expect(attempts.some((x) => x.cell_id === c.cell_id && x.finished_at !== null)).toBe(true);
    const jobs = await query<{ state: string; n: string }>(
      "SELECT state, COUNT(*) AS n FROM pgboss.job WHERE name = 'emosteer-bench-cells' GROUP BY state",
    );
    expect(jobs).toEqual([{ state: "completed", n: "3" }]);
    process.stderr.write(`distributed: 9 cells with 2 workers (one killed, lease ${LEASE_SECONDS} s) in ${seconds.toFixed(1)} s\n`);

    // The same grid in one process on SQLite: the same cells (same keys) with the same texts.
    const sqlite = join(work, "single.sqlite");
    await ok([...GRID, "--db", sqlite, "--no-report"]);
    const store = await SqliteBenchStore.open(sqlite, { readonly: true });
    const single = (await store.texts()).map((t) => ({ text: t.text, id: t }));
    await store.close();
    const { cellId } = await import("../src/store.js");
    expect(Object.fromEntries(single.map((t) => [cellId(t.id), t.text]))).toEqual(
      Object.fromEntries(cells.map((c) => [c.cell_id, c.text])),
    );

    // The report reads Postgres as it reads SQLite.
    const out = join(work, "report");
    await ok(["--report-only", "--db", url, "--out", out]);
    const { readFileSync } = await import("node:fs");
    const report = readFileSync(join(out, "REPORT.md"), "utf8");
    expect(report).toMatch(new RegExp(`\\| smollm2-135m-instruct \\| ${BACKEND.replace(".", "\\.")} \\| [0-9.]+ \\| [0-9.]+ \\|`));
    expect(report).toMatch(/- Machine \(recorded by \d run\(s\)\)/);
  }, 900_000);
});
