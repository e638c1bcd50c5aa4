import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeReport } from "../src/report.js";
import { BenchStore, type CellRecord } from "../src/store.js";

// A real bench run (default model, llama.cpp, judge, lexicon, embedder) as a child process.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const main = join(repoRoot, "apps", "bench", "src", "main.ts");
const TINY_GRID = ["--models", "smollm2-135m-instruct", "--backends", "llama.cpp", "--emotions", "joy", "--alphas", "0,1", "--queries", "3", "--max-tokens", "16", "--mix", "none", "--long-queries", "0", "--latency-reps", "1", "--latency-tokens", "16", "--extraction-queries", "4"];
/** 3 queries × (unsteered, joy@1, prompt:joy). */
const TOTAL_CELLS = 9;

const work = mkdtempSync(join(tmpdir(), "emosteer-bench-run-"));
const uninterruptedDb = join(work, "uninterrupted.sqlite");

function startBench(db: string, extraArgs: readonly string[] = []): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  // node itself (not the tsx CLI, which runs the script in a grandchild) so SIGKILL hits the bench.
  const child = spawn(process.execPath, ["--conditions=@emosteer/source", "--import", "tsx", main, ...TINY_GRID, ...extraArgs, "--db", db, "--no-report"], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolvePromise) =>
    child.on("exit", (code, signal) => resolvePromise({ code, signal, stderr })),
  );
  return { child, done };
}

async function runToEnd(db: string): Promise<void> {
  const { done } = startBench(db);
  const result = await done;
  if (result.code !== 0) throw new Error(`bench exited with ${result.code ?? result.signal}:\n${result.stderr}`);
}

function countCells(db: string): number {
  if (!existsSync(db)) return 0;
  try {
    const store = BenchStore.open(db, { readonly: true });
    try {
      return store.countCells();
    } finally {
      store.close();
    }
  } catch {
    return 0; // the schema may not exist yet
  }
}

/** What a cell must reproduce exactly (greedy decoding): everything but timings and run bookkeeping. */
function contents(cells: readonly CellRecord[]) {
  return cells.map(({ promptMs, decodeMs, firstTokenMs, runId, createdAt, ...rest }) => rest);
}

describe("a real tiny bench run (smollm2-135m-instruct on llama.cpp)", () => {
  beforeAll(async () => {
    await runToEnd(uninterruptedDb);
  }, 900_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("stores every cell of the grid, judged", () => {
    const store = BenchStore.open(uninterruptedDb, { readonly: true });
    const cells = store.cells();
    store.close();
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
    const store = BenchStore.open(uninterruptedDb, { readonly: true });
    const files = await writeReport(store, out);
    store.close();

    const summary = JSON.parse(readFileSync(files.summary, "utf8"));
    expect(Number.isNaN(Date.parse(summary.generated))).toBe(false);
    const keys = ["model", "family", "backend", "emotion", "alpha", "method", "n", "eps", "eps_ci", "hit_rate", "eas", "eas_delta_pct", "fidelity", "perplexity", "distinct2", "decode_tps", "prompt_tps", "overhead_ratio"];
    expect(summary.rows.map((r: { method: string; alpha: number | null }) => `${r.method}@${r.alpha}`).sort()).toEqual(["ev@0", "ev@1", "prompt@null"]);
    for (const row of summary.rows) {
      for (const k of keys) expect(row).toHaveProperty(k);
      expect(row).toMatchObject({ model: "smollm2-135m-instruct", family: "SmolLM2", backend: "llama.cpp", emotion: "joy", n: 3 });
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
    expect(report).toMatch(/\| smollm2-135m-instruct \| llama\.cpp \| [0-9.]+ \| [0-9.]+ \|/);
    expect(report).toContain("## The paper's claims");
    expect(report).toContain("## Prompt baseline against steering");
    const plots = readdirSync(join(out, "plots"));
    expect(plots).toEqual(expect.arrayContaining(["eps-vs-alpha-smollm2-135m-instruct.svg", "eas-vs-alpha-smollm2-135m-instruct.svg", "overhead-by-backend.svg"]));
    for (const p of plots) expect(readFileSync(join(out, "plots", p), "utf8")).toMatch(/^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  }, 120_000);

  it("refuses to extend stored results with vectors from another number of contrast pairs", async () => {
    // Later options win in parseArgs, so this overrides the grid's --extraction-queries 4.
    const { done } = startBench(uninterruptedDb, ["--extraction-queries", "6"]);
    const result = await done;
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/vectors from 4 contrast pairs, and this run asks for 6: use --extraction-queries 4/);
    const store = BenchStore.open(uninterruptedDb, { readonly: true });
    expect(store.countCells()).toBe(TOTAL_CELLS);
    store.close();
  }, 300_000);

  it("loses and duplicates nothing when killed with SIGKILL mid-run and restarted", async () => {
    const db = join(work, "killed.sqlite");
    const { child, done } = startBench(db);
    let seen = 0;
    let killedAt = -1;
    while (killedAt < 0) {
      const exited = await Promise.race([done.then((r) => r), new Promise<null>((r) => setTimeout(() => r(null), 20))]);
      if (exited) throw new Error(`bench exited (${exited.code ?? exited.signal}) before it could be killed (saw ${seen} cells):\n${exited.stderr}`);
      seen = countCells(db);
      if (seen >= 1) {
        child.kill("SIGKILL");
        killedAt = seen;
      }
    }
    const killed = await done;
    expect(killed.signal).toBe("SIGKILL");
    const afterKill = countCells(db);
    expect(afterKill).toBeGreaterThanOrEqual(1);
    expect(afterKill).toBeLessThan(TOTAL_CELLS);

    await runToEnd(db);
    const resumed = BenchStore.open(db, { readonly: true });
    const reference = BenchStore.open(uninterruptedDb, { readonly: true });
    const resumedCells = resumed.cells();
    const referenceCells = reference.cells();
    resumed.close();
    reference.close();
    expect(resumedCells).toHaveLength(TOTAL_CELLS);
    expect(contents(resumedCells)).toEqual(contents(referenceCells));
    // Cells stored before the kill were kept, not regenerated: two run ids.
    expect(new Set(resumedCells.map((c) => c.runId)).size).toBe(2);
  }, 900_000);
});
