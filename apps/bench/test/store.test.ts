import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BenchStore, type CellRecord } from "../src/store.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), "emosteer-bench-store-"));
  dirs.push(dir);
  return join(dir, "bench.sqlite");
}

function cell(queryId: string, condition = "ev:joy@1", text = `answer to ${queryId}`): CellRecord {
  return {
    model: "m", backend: "llama.cpp", extraction: "mean-diff", corpus: "fixed", condition, queryId, maxTokens: 16, seed: 0,
    method: "ev", weights: { joy: 1 }, query: `query ${queryId}`, text, generatedTokens: 16, finishReason: "length",
    promptTokens: 20, promptMs: 10, decodeMs: 100, firstTokenMs: 12, judge: { joy: 0.7, neutral: 0.3 },
    lexicon: { joy: 5, anger: 0 }, perplexity: 4.5, distinct2: 0.9, fidelity: 0.8, runId: "r1", createdAt: "2026-01-01T00:00:00.000Z",
  };
}

describe("BenchStore", () => {
  it("upserts by key: writing the same cell twice keeps one row, with the latest contents", () => {
    const store = BenchStore.open(tempDb());
    store.putCell(cell("q1"));
    store.putCell(cell("q1", "ev:joy@1", "second answer"));
    store.putCell(cell("q2"));
    expect(store.countCells()).toBe(2);
    expect(store.getCell(cell("q1"))?.text).toBe("second answer");
    expect(store.hasCell(cell("q2"))).toBe(true);
    expect(store.hasCell(cell("q3"))).toBe(false);
    expect(store.hasCell({ ...cell("q1"), maxTokens: 32 })).toBe(false);
    store.close();
    store.close(); // idempotent
  });

  it("keeps every stored cell across close and reopen (resume), round-tripping all fields", () => {
    const path = tempDb();
    const first = BenchStore.open(path);
    const written = [cell("q1"), cell("q2", "none"), { ...cell("q3"), perplexity: null, fidelity: null }];
    for (const c of written) first.putCell(c);
    first.close();

    const again = BenchStore.open(path);
    expect(again.countCells()).toBe(3);
    const read = again.cells();
    expect(read).toEqual([...written].sort((a, b) => (a.condition + a.queryId < b.condition + b.queryId ? -1 : 1)));
    again.close();
  });

  it("stores a cell durably before putCell returns: a second connection sees it at once", () => {
    const path = tempDb();
    const writer = BenchStore.open(path);
    writer.putCell(cell("q1"));
    const reader = BenchStore.open(path, { readonly: true });
    expect(reader.countCells()).toBe(1);
    reader.close();
    writer.close();
  });

  it("keeps latency, extraction, long-text and run records keyed the same way", () => {
    const store = BenchStore.open(tempDb());
    const latency = { model: "m", backend: "b", maxTokens: 64, rep: 0, steered: true, promptTokens: 10, generatedTokens: 64, promptMs: 5, decodeMs: 300, firstTokenMs: 7, runId: "r" };
    store.putLatency(latency);
    store.putLatency({ ...latency, decodeMs: 310 });
    expect(store.latency()).toEqual([{ ...latency, decodeMs: 310 }]);
    expect(store.hasLatency("m", "b", 64, 0, true)).toBe(true);
    expect(store.hasLatency("m", "b", 64, 0, false)).toBe(false);

    const longKey = { model: "m", backend: "b", extraction: "mean-diff", corpus: "fixed", condition: "ev:joy@2", queryId: "long-01", kind: "windows" as const, maxTokens: 512, seed: 0 };
    expect(store.hasLongText(longKey)).toBe(false);
    store.putLongText({ ...longKey, emotion: "joy", alpha: 2, segments: [{ index: 0, text: "t", judge: { joy: 1 } }], runId: "r" });
    expect(store.hasLongText(longKey)).toBe(true);
    expect(store.longTexts()[0]?.segments[0]?.judge.joy).toBe(1);

    store.startRun({ runId: "r", startedAt: "2026-01-01T00:00:00Z", options: { a: 1 }, skipped: [] });
    store.finishRun("r", "2026-01-01T01:00:00Z");
    expect(store.runs()).toEqual([{ runId: "r", startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T01:00:00Z", options: { a: 1 }, skipped: [] }]);
    store.close();
  });
});
