import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeReport } from "../src/report.js";
import { SqliteBenchStore } from "../src/sqlite-store.js";
import type { CellRecord } from "../src/store.js";
import { spawnBench, tinyGrid } from "./bench-process.js";
import { SUMMARY_ROW_KEYS } from "./summary-row-keys.js";

// A real bench run (default model, llama.cpp, judge, lexicon, embedder) as a child process.
// EMOSTEER_TEST_BACKEND runs the same checks on another engine.
const BACKEND = process.env.EMOSTEER_TEST_BACKEND ?? "llama.cpp";
const B = BACKEND.replace(".", "\\.");
const TINY_GRID = tinyGrid(BACKEND, { queries: 3, maxTokens: 16, latencyReps: 1, extractionQueries: 4 });
/** 3 queries × (unsteered, joy@1, prompt:joy). */
const TOTAL_CELLS = 9;

const work = mkdtempSync(join(tmpdir(), "emosteer-bench-run-"));
const uninterruptedDb = join(work, "uninterrupted.sqlite");

function startBench(db: string, extraArgs: readonly string[] = []) {
  return spawnBench([...TINY_GRID, ...extraArgs, "--db", db, "--no-report"]);
}

async function runToEnd(db: string): Promise<void> {
  const { done } = startBench(db);
  const result = await done;
  if (result.code !== 0) throw new Error(`bench exited with ${result.code ?? result.signal}:\n${result.stderr}`);
}

async function countCells(db: string): Promise<number> {
  if (!existsSync(db)) return 0;
  try {
    const store = await SqliteBenchStore.open(db, { readonly: true });
    try {
      return await store.countCells();
    } finally {
      await store.close();
    }
  } catch {
    return 0; // the schema may not exist yet
  }
}

async function readCells(db: string): Promise<CellRecord[]> {
  const store = await SqliteBenchStore.open(db, { readonly: true });
  try {
    return await store.cells();
  } finally {
    await store.close();
  }
}

/** What a cell must reproduce exactly (greedy decoding): everything but timings and run bookkeeping. */
function contents(cells: readonly CellRecord[]) {
  return cells.map(({ promptMs, decodeMs, firstTokenMs, runId, createdAt, ...rest }) => rest);
}

/** Every row of every table, as sorted JSON lines: what "unchanged" means for a database. */
function dumpTables(db: string): Record<string, string[]> {
  const sqlite = new Database(db, { readonly: true });
  try {
    const tables = (
      sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]
    ).map((t) => t.name);
    return Object.fromEntries(
      tables.map((t) => [
        t,
        (sqlite.prepare(`SELECT * FROM ${t}`).all() as Record<string, unknown>[]).map((r) => JSON.stringify(r)).sort(),
      ]),
    );
  } finally {
    sqlite.close();
  }
}

describe(`a real tiny bench run (smollm2-135m-instruct on ${BACKEND})`, () => {
  beforeAll(async () => {
    await runToEnd(uninterruptedDb);
  }, 900_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("stores every cell of the grid, judged", async () => {
    const cells = await readCells(uninterruptedDb);
    expect(cells).toHaveLength(TOTAL_CELLS);
    expect(new Set(cells.map((c) => c.condition))).toEqual(new Set(["none", "ev:joy@1", "prompt:joy"]));
    for (const c of cells) {
      expect(c.text.length).toBeGreaterThan(0);
      expect(c.generatedTokens).toBeGreaterThan(0);
      expect(c.generatedTokens).toBeLessThanOrEqual(16);
      expect(Object.values(c.judge).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(c.perplexity).toBeGreaterThan(1);
      expect(c.fidelity).not.toBeNull();
    }
    // Steering changes the answer of at least one query (α = 1 is not a no-op).
    const byQuery = (condition: string) => new Map(cells.filter((c) => c.condition === condition).map((c) => [c.queryId, c.text]));
    const plain = byQuery("none");
    const steered = byQuery("ev:joy@1");
    expect([...steered].some(([q, t]) => plain.get(q) !== t)).toBe(true);
  });

  it("writes REPORT.md, summary.json and SVG plots from the database", async () => {
    const out = join(work, "report");
    const store = await SqliteBenchStore.open(uninterruptedDb, { readonly: true });
    const files = await writeReport(store, out);
    await store.close();

    const summary = JSON.parse(readFileSync(files.summary, "utf8"));
    expect(Number.isNaN(Date.parse(summary.generated))).toBe(false);
    expect(summary.rows.map((r: { method: string; alpha: number | null }) => `${r.method}@${r.alpha}`).sort()).toEqual([
      "ev@0",
      "ev@1",
      "prompt@null",
    ]);
    for (const row of summary.rows) {
      for (const k of SUMMARY_ROW_KEYS) expect(row).toHaveProperty(k);
      expect(row).toMatchObject({ model: "smollm2-135m-instruct", family: "SmolLM2", backend: BACKEND, emotion: "joy", n: 3 });
      expect(row.eps).toBeGreaterThanOrEqual(0);
      expect(row.eps).toBeLessThanOrEqual(1);
      expect(row.eps_ci[0]).toBeLessThanOrEqual(row.eps);
      expect(row.eps_ci[1]).toBeGreaterThanOrEqual(row.eps);
      expect(row.decode_tps).toBeGreaterThan(0);
    }
    const unsteered = summary.rows.find((r: { alpha: number | null; method: string }) => r.method === "ev" && r.alpha === 0);
    expect(unsteered.overhead_ratio).toBe(1);
    expect(unsteered.fidelity).toBe(1);
    expect(summary.extraction.length + summary.rows.length).toBeGreaterThan(0);
    expect(summary.latency).toHaveLength(1);
    expect(summary.latency[0].overhead_ratio).toBeGreaterThan(0);

    const report = readFileSync(files.report, "utf8");
    expect(report).toContain("## Main table");
    expect(report).toMatch(new RegExp(`\\| smollm2-135m-instruct \\| ${B} \\| [0-9.]+ \\| [0-9.]+ \\|`));
    expect(report).toContain("## The paper's claims");
    expect(report).toContain("## Prompt baseline against steering");
    const plots = readdirSync(join(out, "plots"));
    expect(plots).toEqual(
      expect.arrayContaining([
        "eps-vs-alpha-smollm2-135m-instruct.svg",
        "eas-vs-alpha-smollm2-135m-instruct.svg",
        "overhead-by-backend.svg",
      ]),
    );
    for (const p of plots)
      expect(readFileSync(join(out, "plots", p), "utf8")).toMatch(/^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  }, 120_000);

  it("refuses to extend stored results with vectors from another number of contrast pairs", async () => {
    // Later options win in parseArgs, so this overrides the grid's --extraction-queries 4.
    const { done } = startBench(uninterruptedDb, ["--extraction-queries", "6"]);
    const result = await done;
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/vectors from 4 contrast pairs, and this run asks for 6: use --extraction-queries 4/);
    expect(await countCells(uninterruptedDb)).toBe(TOTAL_CELLS);
  }, 300_000);

  it("refuses to extend stored results with another sampling setup, naming the difference", async () => {
    const { done } = startBench(uninterruptedDb, ["--temperature", "0.7"]);
    const result = await done;
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(
      new RegExp(`already holds smollm2-135m-instruct on ${B} cells made with another setup \\(sampling\\.temperature: 0 → 0\\.7\\)`),
    );
    expect(await countCells(uninterruptedDb)).toBe(TOTAL_CELLS);
  }, 300_000);

  it("--rejudge scores the stored texts with another judge: only judgement rows are added, every text stays byte-identical", async () => {
    const db = join(work, "rejudge.sqlite");
    copyFileSync(uninterruptedDb, db); // closed with a WAL checkpoint: the file is the whole database
    const before = dumpTables(db);
    const out = join(work, "rejudge-report");
    const { code, stderr } = await spawnBench(["--rejudge", "--judge", "v1", "--db", db, "--out", out]).done;
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(new RegExp(`re-judged ${TOTAL_CELLS} cell\\(s\\) .* with judge v1 [0-9a-f]+; no text was generated or changed`));

    const after = dumpTables(db);
    for (const table of Object.keys(before).filter((t) => !["judgements", "long_judgements", "runs", "sqlite_sequence"].includes(t)))
      expect(after[table], table).toEqual(before[table]);
    const judgements = (rows: string[]) =>
      rows.map((r) => JSON.parse(r) as { cell_id: string; judge_id: string; judge_name: string; judge: string });
    const [v2Before, v2After] = [judgements(before.judgements!), judgements(after.judgements!).filter((j) => j.judge_name === "v2")];
    expect(v2After).toEqual(v2Before); // the earlier judge's rows are untouched
    const v1 = judgements(after.judgements!).filter((j) => j.judge_name === "v1");
    expect(v1).toHaveLength(TOTAL_CELLS);
    expect(new Set(v1.map((j) => j.cell_id))).toEqual(new Set(v2Before.map((j) => j.cell_id)));
    expect(v1.some((j) => j.judge !== v2Before.find((k) => k.cell_id === j.cell_id)!.judge)).toBe(true);
    expect(after.runs).toHaveLength(before.runs!.length + 1);

    const report = readFileSync(join(out, "REPORT.md"), "utf8");
    expect(report).toMatch(/judge \*\*v1\*\* of @emosteer\/eval \(id `[0-9a-f]+`/);
    expect(report).toContain("## Judges");
    // Each judge is named with its id, so two files of one name (an earlier and a retrained v2) stay apart.
    expect(report).toMatch(
      /\| model \| backend \| α \| EPS v1 `[0-9a-f]{8}` \| EPS v2 `[0-9a-f]{8}` \| hit v1 `[0-9a-f]{8}` \| hit v2 `[0-9a-f]{8}` \|/,
    );
    expect(report).toMatch(new RegExp(`\\| smollm2-135m-instruct \\| ${B} \\| 1 \\| [0-9.]+ \\| [0-9.]+ \\|`));
  }, 300_000);

  it("loses and duplicates nothing when killed with SIGKILL mid-run and restarted", async () => {
    const db = join(work, "killed.sqlite");
    const { child, done } = startBench(db);
    let seen = 0;
    let killedAt = -1;
    while (killedAt < 0) {
      const exited = await Promise.race([done.then((r) => r), new Promise<null>((r) => setTimeout(() => r(null), 20))]);
      if (exited)
        throw new Error(`bench exited (${exited.code ?? exited.signal}) before it could be killed (saw ${seen} cells):\n${exited.stderr}`);
      seen = await countCells(db);
      if (seen >= 1) {
        child.kill("SIGKILL");
        killedAt = seen;
      }
    }
    const killed = await done;
    expect(killed.signal).toBe("SIGKILL");
    const afterKill = await countCells(db);
    expect(afterKill).toBeGreaterThanOrEqual(1);
    expect(afterKill).toBeLessThan(TOTAL_CELLS);

    await runToEnd(db);
    const resumedCells = await readCells(db);
    const referenceCells = await readCells(uninterruptedDb);
    expect(resumedCells).toHaveLength(TOTAL_CELLS);
    expect(contents(resumedCells)).toEqual(contents(referenceCells));
    // Cells stored before the kill were kept, not regenerated: two run ids.
    expect(new Set(resumedCells.map((c) => c.runId)).size).toBe(2);
  }, 900_000);
});
