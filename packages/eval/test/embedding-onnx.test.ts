import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddingCache } from "../src/embedding/embedding-cache.js";
import { loadOnnxSentenceEmbedder, type OnnxSentenceEmbedder } from "../src/embedding/minilm-onnx.js";
import { loadSentenceEmbedder, type SentenceEmbedder } from "../src/embedding/sentence-embedder.js";
import { cosineSimilarity } from "../src/metrics.js";

const tmp = mkdtempSync(join(tmpdir(), "emosteer-eval-onnx-"));
let onnx: OnnxSentenceEmbedder;
let reference: SentenceEmbedder;

beforeAll(async () => {
  onnx = await loadOnnxSentenceEmbedder({ batchSize: 4, onProgress: (m) => console.log(`[minilm] ${m}`) });
  reference = await loadSentenceEmbedder();
}, 900_000);
afterAll(async () => {
  await onnx?.dispose();
  reference?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

const TEXTS = [
  "A man is eating food.",
  "I am furious, this is the worst service I have ever had!",
  "",
  "Sure. Descale the kettle with equal parts white vinegar and water, boil it, let it sit for an hour, then rinse twice.",
  "Ugh, the fridge smells vile, like something died in there; I can barely open the door without gagging.",
  "I keep thinking about the results and I can't sleep, what if the scan shows something bad, what if",
  "word ".repeat(400),
];

describe("all-MiniLM-L6-v2 on onnxruntime (graph built by GraphBuilder from the wheel's safetensors)", () => {
  it("agrees with the plain-TypeScript forward (cosine ≥ 0.9999), in batches with padding, in input order", async () => {
    const batched = await onnx.embedMany(TEXTS);
    expect(batched).toHaveLength(TEXTS.length);
    TEXTS.forEach((t, i) => {
      const cos = cosineSimilarity(batched[i]!, reference.embed(t));
      expect(cos).toBeGreaterThanOrEqual(0.9999);
      expect(Math.hypot(...batched[i]!)).toBeCloseTo(1, 5);
    });
    // One text alone (no padding) gives the same vector as inside a padded batch.
    const alone = await onnx.embed(TEXTS[1]!);
    expect(cosineSimilarity(alone, batched[1]!)).toBeGreaterThan(0.99999);
  });

  it("int8 graph: sentence block, one text per run (no batch-mate effect), close to fp32", async () => {
    const int8 = await loadOnnxSentenceEmbedder({ precision: "int8", sentences: true });
    try {
      expect(int8.dimensions).toBe(2 * onnx.dimensions);
      expect(int8.modelId).not.toBe(onnx.modelId);
      for (const t of TEXTS) expect(int8.tokenizeSentences(t).ids).toEqual(int8.tokenize(t));
      expect(int8.tokenizeSentences("First one. Second one!\nThird").starts).toEqual([1, 4, 7]);
      const [quantized, exact] = [await int8.embedMany(TEXTS), await onnx.embedMany(TEXTS)];
      const cos = TEXTS.map((_, i) => cosineSimilarity(quantized[i]!.subarray(0, onnx.dimensions), exact[i]!));
      console.log(`int8 against fp32 embeddings: cosine min ${Math.min(...cos).toFixed(4)}`);
      // A loose sanity bound (a wrong graph lands far below it), not an agreement figure: that is measured in benchmarks/judge.md.
      for (const c of cos) expect(c).toBeGreaterThan(0.95);
      for (const v of quantized) {
        expect(Math.hypot(...v.subarray(0, onnx.dimensions))).toBeCloseTo(1, 5);
        expect(Math.hypot(...v.subarray(onnx.dimensions))).toBeCloseTo(1, 5);
      }
      expect(Array.from(await int8.embed(TEXTS[4]!))).toEqual(Array.from(quantized[4]!));
      await expect(loadOnnxSentenceEmbedder({ sentences: true })).rejects.toThrow(/int8/);
    } finally {
      await int8.dispose();
    }
  });

  it("int8-row graph: padded, length-sorted batches give each text the embedding it gets alone", async () => {
    const rows = await loadOnnxSentenceEmbedder({ precision: "int8-row", batchSize: 3 });
    try {
      expect(rows.modelId).not.toBe(onnx.modelId);
      const batched = await rows.embedMany(TEXTS);
      const exact = await onnx.embedMany(TEXTS);
      for (let i = 0; i < TEXTS.length; i++) {
        const alone = await rows.embed(TEXTS[i]!);
        // Per-token activation scales: batch-mates and padding change nothing but float rounding.
        expect(1 - cosineSimilarity(alone, batched[i]!)).toBeLessThan(1e-5);
        expect(Math.hypot(...batched[i]!)).toBeCloseTo(1, 5);
        // A loose sanity bound against fp32 (a wrong graph lands far below it), not an agreement figure.
        expect(cosineSimilarity(batched[i]!.subarray(0, onnx.dimensions), exact[i]!)).toBeGreaterThan(0.95);
      }
    } finally {
      await rows.dispose();
    }
  });

  it("caches embeddings by text hash and ignores a record cut short", async () => {
    const cache = EmbeddingCache.open(tmp, onnx.modelId, onnx.dimensions);
    const first = await cache.embedAll(onnx, [TEXTS[0]!, TEXTS[1]!, TEXTS[0]!]);
    expect(cache.size).toBe(2);
    expect(Array.from(first[2]!)).toEqual(Array.from(first[0]!));
    const reopened = EmbeddingCache.open(tmp, onnx.modelId, onnx.dimensions);
    expect(reopened.size).toBe(2);
    expect(Array.from(reopened.get(TEXTS[1]!)!)).toEqual(Array.from(first[1]!));
    writeFileSync(cache.path, Buffer.alloc(100, 1), { flag: "a" }); // a crash mid-append
    const size = statSync(cache.path).size;
    const again = EmbeddingCache.open(tmp, onnx.modelId, onnx.dimensions);
    expect(again.size).toBe(2);
    expect(size % (32 + 4 * onnx.dimensions)).toBe(100);
  });
});
