import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { ensureEmbeddingModel } from "@emosteer/eval";
import { findModelSpec } from "@emosteer/models";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteBenchStore } from "../src/sqlite-store.js";
import { spawnBench, tinyGrid } from "./bench-process.js";

// A real bench process whose one engine cannot load: ONNX on a cached model file that is not a GGUF
// (a corrupted download with its recorded hash, as a disk error would leave it).
const work = mkdtempSync(join(tmpdir(), "emosteer-bench-exit-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A cache whose smollm2 GGUF is zeros of the right size, sharing the real cache's MiniLM (fetched first when missing). */
async function brokenCache(): Promise<string> {
  const cache = join(work, "cache");
  const spec = findModelSpec("smollm2-135m-instruct");
  const source = spec.sources.find((s) => s.kind === "pypi");
  if (source?.kind !== "pypi" || source.size === undefined) throw new Error("smollm2-135m-instruct has no PyPI source with a size");
  const dir = join(cache, "models", spec.id);
  mkdirSync(dir, { recursive: true });
  const gguf = join(dir, `${spec.id}.gguf`);
  writeFileSync(gguf, "");
  truncateSync(gguf, source.size);
  writeFileSync(`${gguf}.sha256`, `${source.sha256}\n`);
  symlinkSync(await ensureEmbeddingModel(), join(cache, "models", "all-minilm-l6-v2"));
  return cache;
}

describe("honest exits and provenance", () => {
  it("fails the run (exit 1) when an engine cannot load, with the reason in the report, and records the machine at run time", async () => {
    const cache = await brokenCache();
    const db = join(work, "bench.sqlite");
    const out = join(work, "report");
    const args = [...tinyGrid("onnx", { queries: 1, maxTokens: 4, latencyReps: 0 }), "--db", db, "--out", out];
    const { code, stderr } = await spawnBench(args, { ...process.env, EMOSTEER_CACHE_DIR: cache }).done;
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/FAILED smollm2-135m-instruct on onnx: backend failed to load: /);

    const store = await SqliteBenchStore.open(db, { readonly: true });
    const runs = await store.runs();
    await store.close();
    expect(runs).toHaveLength(1);
    expect(runs[0]!.skipped).toEqual([expect.objectContaining({ model: "smollm2-135m-instruct", backend: "onnx", failed: true })]);
    const p = runs[0]!.provenance!;
    expect(p.machine.cores).toBe(cpus().length);
    expect(p.machine.cpuModel).toBe(cpus()[0]!.model);
    expect(p.machine.loadAverage).toHaveLength(3);
    expect(p.engines.onnx).toMatch(/^onnxruntime-node \d+\.\d+\.\d+$/);
    expect(p.engines["llama.cpp"]).toMatch(/^node-llama-cpp \d+\.\d+\.\d+$/);
    expect(p.judge?.id).toMatch(/^[0-9a-f]{12,}$/);

    const report = readFileSync(join(out, "REPORT.md"), "utf8");
    expect(report).toMatch(/\| smollm2-135m-instruct \| onnx \| \*\*failed the run\*\*: backend failed to load: /);
    expect(report).toContain(`- Machine (recorded by 1 run(s)): ${cpus().length} CPU core(s) (${cpus()[0]!.model})`);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    expect(summary.runs[0].provenance.engines).toEqual(p.engines);
  }, 300_000);
});
