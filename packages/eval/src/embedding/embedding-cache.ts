/**
 * Sentence embeddings cached on disk by the sha256 of their text, so retraining the judge (or
 * re-scoring a data set) embeds only texts it has not seen. One file per embedding model:
 * fixed-size records [32-byte sha256 of the UTF-8 text][dimensions × float32], appended with one
 * write call per chunk (O_APPEND: concurrent writers never interleave inside a record). A record cut
 * short by a crash is ignored on the next load and written again.
 */
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { AbortedError } from "@emosteer/core";
import type { OnnxSentenceEmbedder } from "./minilm-onnx.js";

/** Texts embedded per session batch group before their records are appended (progress survives a crash). */
const CHUNK = 1024;

export function textKey(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

export class EmbeddingCache {
  readonly #vectors = new Map<string, Float32Array>();

  private constructor(
    readonly path: string,
    readonly dimensions: number,
  ) {}

  /** Opens (or starts) `<cacheDir>/embeddings/<modelId>.bin`. */
  static open(cacheDir: string, modelId: string, dimensions: number): EmbeddingCache {
    const cache = new EmbeddingCache(join(cacheDir, "embeddings", `${modelId}.bin`), dimensions);
    if (existsSync(cache.path)) {
      const bytes = readFileSync(cache.path);
      const size = 32 + 4 * dimensions;
      const whole = bytes.length - (bytes.length % size);
      for (let o = 0; o < whole; o += size) {
        const key = bytes.toString("hex", o, o + 32);
        const v = new Float32Array(dimensions);
        new Uint8Array(v.buffer).set(bytes.subarray(o + 32, o + size));
        if (v.every((x) => Number.isFinite(x))) cache.#vectors.set(key, v);
      }
    }
    return cache;
  }

  get size(): number {
    return this.#vectors.size;
  }

  get(text: string): Float32Array | undefined {
    return this.#vectors.get(textKey(text));
  }

  /**
   * Embeddings of `texts` in order: cached ones are reused, the others embedded with `embedder`
   * (deduplicated) and appended to the file.
   */
  async embedAll(
    embedder: OnnxSentenceEmbedder,
    texts: readonly string[],
    options: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal; persist?: boolean } = {},
  ): Promise<Float32Array[]> {
    const keys = texts.map(textKey);
    const missing = new Map<string, string>();
    keys.forEach((k, i) => {
      if (!this.#vectors.has(k) && !missing.has(k)) missing.set(k, texts[i]!);
    });
    const todo = [...missing.entries()];
    for (let start = 0; start < todo.length; start += CHUNK) {
      if (options.signal?.aborted) throw new AbortedError("Embedding");
      const chunk = todo.slice(start, start + CHUNK);
      const vectors = await embedder.embedMany(
        chunk.map(([, t]) => t),
        { signal: options.signal },
      );
      const record = 32 + 4 * this.dimensions;
      const buf = Buffer.alloc(chunk.length * record);
      chunk.forEach(([k], i) => {
        this.#vectors.set(k, vectors[i]!);
        buf.write(k, i * record, "hex");
        Buffer.from(vectors[i]!.buffer, vectors[i]!.byteOffset, vectors[i]!.byteLength).copy(buf, i * record + 32);
      });
      if (options.persist !== false) {
        mkdirSync(dirname(this.path), { recursive: true });
        appendFileSync(this.path, buf);
      }
      options.onProgress?.(Math.min(start + CHUNK, todo.length), todo.length);
    }
    return keys.map((k) => this.#vectors.get(k)!);
  }
}
