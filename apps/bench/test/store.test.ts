import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import {
  BENCH_STEERING,
  CELL_FORMAT_VERSION,
  chatTemplateHash,
  setupDifferences,
  setupHash,
  type EngineSetup,
} from "../src/cell-identity.js";
import { assertSameSetup } from "../src/setup-guard.js";
import { SqliteBenchStore } from "../src/sqlite-store.js";
import { cellId, openStore, StoreFormatError } from "../src/store.js";
import { storedCell } from "./cell-fixture.js";

const cell = (queryId: string, condition = "ev:joy@1", text = `answer to ${queryId}`) =>
  storedCell(queryId, condition, text, { extraction: "mean-diff", corpus: "fixed", method: "ev", weights: { joy: 1 }, fidelity: 0.8 });

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), "emosteer-bench-store-"));
  dirs.push(dir);
  return join(dir, "bench.sqlite");
}

const SETUP: EngineSetup = {
  format: CELL_FORMAT_VERSION,
  fingerprint: "0123456789abcdef",
  engine: "llama.cpp",
  numerics: "node-llama-cpp 3.21.1; gguf",
  chatTemplate: "aaaa",
  steering: BENCH_STEERING,
  sampling: { temperature: 0, topK: null, topP: null },
};

describe("BenchStore (SQLite)", () => {
  it("writes a text once: a second write of the same key keeps the first text and updates only the judgement", async () => {
    const store = await SqliteBenchStore.open(tempDb());
    await store.putCell(cell("q1"));
    await store.putCell({ ...cell("q1", "ev:joy@1", "second answer"), judge: { joy: 0.1, neutral: 0.9 } });
    await store.putCell(cell("q2"));
    expect(await store.countCells()).toBe(2);
    const q1 = await store.getCell(cell("q1"));
    expect(q1?.text).toBe("answer to q1");
    expect(q1?.judge.joy).toBe(0.1);
    expect(await store.hasCell(cell("q2"))).toBe(true);
    expect(await store.hasCell(cell("q3"))).toBe(false);
    expect(await store.hasCell({ ...cell("q1"), maxTokens: 32 })).toBe(false);
    await store.close();
    await store.close(); // idempotent
  });

  it("keys cells by setup and query text: the same grid coordinates under another setup or query text are other cells", async () => {
    const store = await SqliteBenchStore.open(tempDb());
    await store.putCell(cell("q1"));
    expect(await store.hasCell({ ...cell("q1"), setupHash: "setup-b" })).toBe(false);
    expect(await store.hasCell({ ...cell("q1"), queryHash: "other" })).toBe(false);
    await store.putCell({ ...cell("q1"), setupHash: "setup-b", text: "sampled" });
    expect(await store.countCells()).toBe(2);
    expect(cellId(cell("q1"))).not.toBe(cellId({ ...cell("q1"), setupHash: "setup-b" }));
    expect(cellId(cell("q1"))).toMatch(/^[0-9a-f]{32}$/);
    await store.close();
  });

  it("keeps each judge's judgement in its own row: a new judge adds rows, cells() reads the judge asked for", async () => {
    const store = await SqliteBenchStore.open(tempDb());
    await store.putCell(cell("q1"));
    await store.putCell(cell("q2"));
    await store.putJudgement(cell("q1"), { judgeId: "judge-2", judgeName: "v2", judge: { joy: 0.95, neutral: 0.05 }, lexicon: { joy: 5 } });
    expect((await store.cells({ judgeId: "judge-1" })).map((c) => c.judge.joy)).toEqual([0.7, 0.7]);
    expect((await store.cells({ judgeId: "judge-2" })).map((c) => [c.queryId, c.judge.joy, c.judgeName])).toEqual([["q1", 0.95, "v2"]]);
    expect((await store.getCell(cell("q1"), "judge-1"))?.judge.joy).toBe(0.7);
    expect(await store.judges()).toEqual([
      { judgeId: "judge-1", judgeName: "v1", cells: 2 },
      { judgeId: "judge-2", judgeName: "v2", cells: 1 },
    ]);
    await expect(store.putJudgement(cell("q9"), { judgeId: "judge-2", judgeName: "v2", judge: {}, lexicon: {} })).rejects.toThrow(
      /No stored cell/,
    );
    await store.close();
  });

  it("keeps every stored cell across close and reopen (resume), round-tripping all fields", async () => {
    const path = tempDb();
    const first = await SqliteBenchStore.open(path);
    const written = [cell("q1"), cell("q2", "none"), { ...cell("q3"), perplexity: null, fidelity: null }];
    for (const c of written) await first.putCell(c);
    await first.close();

    const again = await openStore(path);
    expect(await again.countCells()).toBe(3);
    expect(await again.cells()).toEqual([...written].sort((a, b) => (a.condition + a.queryId < b.condition + b.queryId ? -1 : 1)));
    await again.close();
  });

  it("stores a cell durably before putCell returns: a second connection sees it at once", async () => {
    const path = tempDb();
    const writer = await SqliteBenchStore.open(path);
    await writer.putCell(cell("q1"));
    const reader = await SqliteBenchStore.open(path, { readonly: true });
    expect(await reader.countCells()).toBe(1);
    await reader.close();
    await writer.close();
  });

  it("refuses a schema-1 database (cells keyed without fingerprint, template or sampling), saying what to do", async () => {
    const path = tempDb();
    const old = new Database(path);
    old.exec(
      "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('schema', '1'); CREATE TABLE cells (model TEXT);",
    );
    old.close();
    await expect(openStore(path)).rejects.toThrow(StoreFormatError);
    await expect(openStore(path)).rejects.toThrow(
      /schema version 1: its cells are keyed without the model fingerprint.*run into a new --db path/s,
    );
    await expect(SqliteBenchStore.open(path, { readonly: true })).rejects.toThrow(/schema version 1/);
  });

  it("keeps latency, extraction, long-text, run and attempt records", async () => {
    const store = await SqliteBenchStore.open(tempDb());
    const latency = {
      model: "m",
      backend: "b",
      maxTokens: 64,
      rep: 0,
      steered: true,
      promptTokens: 10,
      generatedTokens: 64,
      promptMs: 5,
      decodeMs: 300,
      firstTokenMs: 7,
      runId: "r",
    };
    await store.putLatency(latency);
    await store.putLatency({ ...latency, decodeMs: 310 });
    expect(await store.latency()).toEqual([{ ...latency, decodeMs: 310 }]);
    expect(await store.hasLatency("m", "b", 64, 0, true)).toBe(true);
    expect(await store.hasLatency("m", "b", 64, 0, false)).toBe(false);

    const longKey = {
      model: "m",
      backend: "b",
      extraction: "mean-diff",
      corpus: "fixed",
      condition: "ev:joy@2",
      queryId: "long-01",
      kind: "windows" as const,
      maxTokens: 512,
      seed: 0,
      setupHash: "s",
    };
    expect(await store.hasLongText(longKey)).toBe(false);
    await store.putLongText({
      ...longKey,
      emotion: "joy",
      alpha: 2,
      segments: [{ index: 0, text: "t", judge: { joy: 1 } }],
      runId: "r",
      judgeId: "judge-1",
    });
    expect(await store.hasLongText(longKey)).toBe(true);
    await store.putLongJudgement(longKey, "judge-2", [{ joy: 0.5 }]);
    expect((await store.longTexts("judge-1"))[0]?.segments[0]).toEqual({ index: 0, text: "t", judge: { joy: 1 } });
    expect((await store.longTexts("judge-2"))[0]?.segments[0]).toEqual({ index: 0, text: "t", judge: { joy: 0.5 } });

    await store.startRun({ runId: "r", startedAt: "2026-01-01T00:00:00Z", options: { a: 1 }, skipped: [], provenance: null });
    await store.finishRun("r", "2026-01-01T01:00:00Z");
    expect(await store.runs()).toEqual([
      {
        runId: "r",
        startedAt: "2026-01-01T00:00:00Z",
        finishedAt: "2026-01-01T01:00:00Z",
        options: { a: 1 },
        skipped: [],
        provenance: null,
      },
    ]);

    await store.startAttempt(cellId(cell("q1")), "w1");
    await store.putCell(cell("q1"), { worker: "w1" });
    const attempts = await store.attempts();
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ cellId: cellId(cell("q1")), worker: "w1" });
    expect(attempts[0]!.finishedAt).not.toBeNull();
    await store.close();
  });
});

describe("cell identity", () => {
  it("names every field in which two setups differ", () => {
    const sampled: EngineSetup = { ...SETUP, chatTemplate: "bbbb", sampling: { ...SETUP.sampling, temperature: 0.7 } };
    expect(setupDifferences(SETUP, sampled)).toEqual(['chatTemplate: "aaaa" → "bbbb"', "sampling.temperature: 0 → 0.7"]);
    expect(setupDifferences(SETUP, { ...SETUP })).toEqual([]);
    expect(setupHash(SETUP)).toBe(setupHash({ ...SETUP, sampling: { topP: null, topK: null, temperature: 0 } }));
    expect(setupHash(SETUP)).not.toBe(setupHash(sampled));
  });

  it("hashes what the chat template renders, so a template fix changes the setup", () => {
    const chatml = {
      formatChat: (m: readonly { role: string; content: string }[]) =>
        m.map((x) => `<|im_start|>${x.role}\n${x.content}<|im_end|>\n`).join("") + "<|im_start|>assistant\n",
    };
    const fixed = {
      formatChat: (m: readonly { role: string; content: string }[]) =>
        m.map((x) => `<start_of_turn>${x.role}\n${x.content}<end_of_turn>\n`).join(""),
    };
    expect(chatTemplateHash(chatml)).toMatch(/^[0-9a-f]{16}$/);
    expect(chatTemplateHash(chatml)).toBe(chatTemplateHash({ formatChat: chatml.formatChat }));
    expect(chatTemplateHash(chatml)).not.toBe(chatTemplateHash(fixed));
  });

  it("refuses to mix setups of one model and engine in one database, naming the difference", async () => {
    const store = await SqliteBenchStore.open(tempDb());
    await assertSameSetup(store, "m", "llama.cpp", SETUP);
    await assertSameSetup(store, "m", "llama.cpp", SETUP); // the same setup extends the results
    await assertSameSetup(store, "m", "onnx", { ...SETUP, engine: "onnx" }); // another engine has its own
    await expect(assertSameSetup(store, "m", "llama.cpp", { ...SETUP, sampling: { ...SETUP.sampling, temperature: 0.7 } })).rejects.toThrow(
      /already holds m on llama\.cpp cells made with another setup \(sampling\.temperature: 0 → 0\.7\): pass another --db/,
    );
    await expect(assertSameSetup(store, "m", "llama.cpp", { ...SETUP, fingerprint: "ffff" })).rejects.toThrow(
      /fingerprint: "0123456789abcdef" → "ffff"/,
    );
    await store.close();
  });
});
