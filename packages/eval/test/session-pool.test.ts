import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DisposedError } from "@emosteer/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureMiniLmGraph, loadOnnxSentenceEmbedder, type OnnxSentenceEmbedder } from "../src/embedding/minilm-onnx.js";
import { openSessionPool } from "../src/embedding/session-pool.js";
import { ensureEmbeddingModel } from "../src/embedding/sentence-embedder.js";
import { loadContrastCorpus, loadInDomain } from "../src/indomain-data.js";
import { createJudge, type EmotionJudge, loadJudgeEmbedder, V2_JUDGE_SETTINGS } from "../src/judge.js";

// Real texts of both kinds the judge reads: contrast-corpus answers and in-domain dev texts (every style).
const contrast = loadContrastCorpus();
const dev = loadInDomain("dev");
const TEXTS = [
  ...contrast.filter((_, i) => i % 25 === 0).map((r) => r.text),
  ...dev.filter((_, i) => i % 30 === 0).map((r) => r.text),
  "",
  "word ".repeat(400),
];

let caller1: OnnxSentenceEmbedder;
let caller2: OnnxSentenceEmbedder;
let workers: OnnxSentenceEmbedder;

beforeAll(async () => {
  // The judge's own encoder (v2's settings) in 2 worker threads (a session of 1 intra-op thread each),
  // and on the calling thread twice: with 1 intra-op thread (each worker's kernel setup, so the bit-exact
  // reference on any CPU) and with 2 (the first v2 path). How onnxruntime splits a kernel over 2
  // intra-op threads can change the rounding on another CPU or version, so that path is compared
  // within a tolerance only: a last-bit difference can move one int8 activation by a quantization
  // step (about max/127), so the bound is 1e-3 on an embedding and 0.01 on a probability, not
  // float rounding.
  caller1 = await loadJudgeEmbedder(V2_JUDGE_SETTINGS, { threads: 1 });
  caller2 = await loadJudgeEmbedder(V2_JUDGE_SETTINGS, { thread: "caller" });
  workers = await loadJudgeEmbedder(V2_JUDGE_SETTINGS);
}, 900_000);
afterAll(async () => {
  await caller1?.dispose();
  await caller2?.dispose();
  await workers?.dispose();
});

const bits = (v: Float32Array) => Array.from(new Uint32Array(v.buffer, v.byteOffset, v.length));
/** Largest |a[i] - b[i]|, after checking the lengths agree. */
function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(b.length).toBe(a.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("the MiniLM encoder in worker threads", () => {
  it("gives the same embeddings bit for bit as a 1-thread calling-thread session, in input order; within 1e-3 of the 2-thread one", async () => {
    expect(TEXTS.length).toBeGreaterThanOrEqual(40);
    expect(workers.threads).toBe(2);
    const progress: number[] = [];
    const a = await caller1.embedMany(TEXTS);
    const b = await workers.embedMany(TEXTS, { onProgress: (done) => progress.push(done) });
    const c = await caller2.embedMany(TEXTS);
    expect(b).toHaveLength(TEXTS.length);
    TEXTS.forEach((_, i) => {
      expect(b[i]!.length).toBe(384);
      expect(bits(b[i]!)).toEqual(bits(a[i]!));
      expect(maxAbsDiff(b[i]!, c[i]!)).toBeLessThanOrEqual(1e-3);
    });
    expect(progress.at(-1)).toBe(TEXTS.length);
    // And each text alone gives what it gives among the others (one text per run, whichever worker runs it).
    expect(bits(await workers.embed(TEXTS[7]!))).toEqual(bits(a[7]!));
  });

  it("with the sentence block (token_embeddings crossing from the worker) too, and on 1 thread", async () => {
    const few = TEXTS.slice(0, 12);
    const [one, pooled] = [
      await loadOnnxSentenceEmbedder({ precision: "int8", sentences: true, threads: 1 }),
      await loadOnnxSentenceEmbedder({ precision: "int8", sentences: true }),
    ];
    try {
      const [a, b, plain] = [await one.embedMany(few), await pooled.embedMany(few), await caller1.embedMany(few)];
      few.forEach((_, i) => {
        expect(bits(b[i]!)).toEqual(bits(a[i]!));
        // Fetching the hidden states too leaves the sentence embedding as it is.
        expect(bits(b[i]!.subarray(0, 384))).toEqual(bits(plain[i]!));
      });
    } finally {
      await one.dispose();
      await pooled.dispose();
    }
  });

  it("the judge scores the same through every path (bit for bit on 1 thread, within 0.01 on 2), with the same id", async () => {
    const judge: EmotionJudge = await createJudge({ judge: "v2", encoder: { threads: 1 } });
    const judge2 = await createJudge({ judge: "v2", encoder: { thread: "caller" } });
    const pooled = await createJudge({ judge: "v2" });
    try {
      expect(pooled.id).toBe(judge.id);
      expect(judge2.id).toBe(judge.id);
      const few = TEXTS.slice(0, 10);
      const [p, q, r] = [await judge.probabilitiesMany(few), await pooled.probabilitiesMany(few), await judge2.probabilitiesMany(few)];
      expect(q).toHaveLength(few.length);
      p.forEach((x, i) => {
        expect(bits(q[i]!)).toEqual(bits(x));
        expect(maxAbsDiff(q[i]!, r[i]!)).toBeLessThanOrEqual(0.01);
      });
    } finally {
      await judge.dispose();
      await judge2.dispose();
      await pooled.dispose();
    }
  });

  it("reports a worker's onnxruntime error to the caller, naming the encoder; the pool keeps working", async () => {
    const modelPath = ensureMiniLmGraph(await ensureEmbeddingModel(), undefined, "int8");
    const pool = await openSessionPool(modelPath, { intraOpNumThreads: 1, logSeverityLevel: 3 }, { size: 2 });
    try {
      const ids = { type: "int64" as const, dims: [1, 3], data: BigInt64Array.of(101n, 2000n, 102n) };
      const mask = { type: "int64" as const, dims: [1, 3], data: BigInt64Array.of(1n, 1n, 1n) };
      await expect(pool.runAll([{ input_ids: ids }], ["sentence_embedding"])).rejects.toThrow(/the MiniLM encoder: .*attention_mask/);
      const [out] = await pool.runAll([{ input_ids: ids, attention_mask: mask }], ["sentence_embedding"]);
      expect(out!.sentence_embedding!.dims).toEqual([1, 384]);
    } finally {
      await pool.release();
    }
    await expect(pool.runAll([], ["sentence_embedding"])).rejects.toThrow(DisposedError);
    await expect(openSessionPool("/nonexistent/model.onnx", {}, { size: 1 })).rejects.toThrow(/cannot load \/nonexistent\/model\.onnx/);
  });

  it("an idle pool does not keep the process alive; dispose stops the workers", async () => {
    await workers.embed("warm");
    const disposed = await loadJudgeEmbedder(V2_JUDGE_SETTINGS);
    await disposed.dispose();
    await expect(disposed.embedMany(["x"])).rejects.toThrow(/after dispose/);
    // A process that embeds through the pool and never disposes it exits by itself (the worker entry
    // loads from source under tsx, as it does under vitest).
    const entry = fileURLToPath(new URL("../src/embedding/minilm-onnx.ts", import.meta.url));
    const script = `const { loadOnnxSentenceEmbedder } = await import(${JSON.stringify(entry)});
const e = await loadOnnxSentenceEmbedder({ precision: "int8", batchSize: 1 });
const v = await e.embedMany(["one text", "and another one"]);
console.log("embedded", v.length, e.threads);`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "--conditions=@emosteer/source", "--input-type=module", "-e", script],
      { cwd: fileURLToPath(new URL("..", import.meta.url)), timeout: 300_000 },
    );
    expect(stdout.trim()).toBe("embedded 2 2");
  }, 300_000);
});
