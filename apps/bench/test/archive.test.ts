// A database → archive → new database round trip keeps every text, every judge's rows and the
// records the report needs; the import refuses a database that already holds cells.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { ArchiveFormatError, exportArchive, importArchive } from "../src/archive.js";
import { SqliteBenchStore } from "../src/sqlite-store.js";
import { storedCell as cell } from "./cell-fixture.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "emosteer-bench-archive-"));
  dirs.push(dir);
  return dir;
}

describe("bench archive", () => {
  it("round-trips texts, both judges' rows, long texts, runs, setups, extractions, latency and resources", async () => {
    const dir = tempDir();
    const source = await SqliteBenchStore.open(join(dir, "a.sqlite"));
    const cells = [
      cell("q1", "none", "Plain answer."),
      cell("q1", "ev:joy@1", 'Joyful answer! 🎉 "quoted"\nnew line'),
      cell("q2", "ev:joy@1", "Another."),
    ];
    for (const c of cells) await source.putCell(c);
    await source.putJudgement(cells[1]!, {
      judgeId: "judge-2",
      judgeName: "v2",
      judge: { joy: 0.95, neutral: 0.05 },
      lexicon: { joy: 6, anger: 0 },
    });
    await source.startRun({ runId: "r1", startedAt: "2026-01-01T00:00:00Z", options: { models: ["m"] }, skipped: [], provenance: null });
    await source.finishRun("r1", "2026-01-01T00:10:00Z");
    await source.putSetup({ model: "m", backend: "llama.cpp", setupHash: "setup-a", setup: { format: 1, note: "x" } as never });
    await source.putExtraction({
      model: "m",
      backend: "llama.cpp",
      extraction: "mean-diff",
      corpus: "fixed",
      corpusHash: "c",
      emotion: "joy",
      seconds: 3,
      queries: 10,
      vectorPath: "/v/joy.gguf",
      createdAt: "2026-01-01T00:01:00Z",
    });
    await source.putLatency({
      model: "m",
      backend: "llama.cpp",
      maxTokens: 16,
      rep: 0,
      steered: true,
      promptTokens: 5,
      generatedTokens: 16,
      promptMs: 1,
      decodeMs: 50,
      firstTokenMs: 2,
      runId: "r1",
    });
    await source.putResources({
      runId: "r1",
      model: "m",
      backend: "llama.cpp",
      loadSeconds: 1.5,
      peakRssBytes: 1e9,
      heapUsedBytes: 1e8,
      externalBytes: 1e7,
    });
    const longKey = {
      model: "m",
      backend: "llama.cpp",
      extraction: "mean-diff",
      corpus: "fixed",
      condition: "ev:joy@1",
      queryId: "long-01",
      kind: "windows" as const,
      maxTokens: 64,
      seed: 0,
      setupHash: "setup-a",
    };
    await source.putLongText({
      ...longKey,
      emotion: "joy",
      alpha: 1,
      segments: [
        { index: 0, text: "w0", judge: { joy: 0.4 } },
        { index: 1, text: "w1", judge: { joy: 0.6 } },
      ],
      runId: "r1",
      judgeId: "judge-1",
    });
    await source.putLongJudgement(longKey, "judge-2", [{ joy: 0.8 }, { joy: 0.9 }]);

    const file = join(dir, "texts.jsonl.gz");
    expect(await exportArchive(source, file)).toEqual({ cells: 3, judgements: 4, longTexts: 1, runs: 1 });
    const copy = await SqliteBenchStore.open(join(dir, "b.sqlite"));
    expect(await importArchive(file, copy)).toEqual({ cells: 3, judgements: 4, longTexts: 1, runs: 1 });

    for (const judgeId of ["judge-1", "judge-2"]) expect(await copy.cells({ judgeId })).toEqual(await source.cells({ judgeId }));
    expect(await copy.texts()).toEqual(await source.texts());
    expect(await copy.judges()).toEqual(await source.judges());
    expect(await copy.longTexts("judge-2")).toEqual(await source.longTexts("judge-2"));
    expect(await copy.longTexts("judge-1")).toEqual(await source.longTexts("judge-1"));
    expect(await copy.runs()).toEqual(await source.runs());
    expect(await copy.setups()).toEqual(await source.setups());
    expect(await copy.extractions()).toEqual(await source.extractions());
    expect(await copy.latency()).toEqual(await source.latency());
    expect(await copy.resources()).toEqual(await source.resources());

    // A second export of the copy is the same bytes: the archive is a deterministic function of the database.
    const again = join(dir, "again.jsonl.gz");
    await exportArchive(copy, again);
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(again).equals(readFileSync(file))).toBe(true);

    await expect(importArchive(file, copy)).rejects.toThrow(/already holds cells: import an archive into a new, empty database/);
    await source.close();
    await copy.close();
  });

  it("refuses a file that is not an archive of this format, naming what to do", async () => {
    const dir = tempDir();
    const file = join(dir, "other.jsonl.gz");
    writeFileSync(file, gzipSync('{"type":"archive","format":99}\n'));
    const store = await SqliteBenchStore.open(join(dir, "c.sqlite"));
    await expect(importArchive(file, store)).rejects.toBeInstanceOf(ArchiveFormatError);
    await expect(importArchive(file, store)).rejects.toThrow(/not a bench archive of format 1.*pnpm bench export/);
    await store.close();
  });
});
