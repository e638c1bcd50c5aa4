import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { AbortedError } from "../errors.js";
import { modelInfoFromGguf } from "../gguf/model-info.js";
import { openGguf } from "../gguf/reader.js";
import type { ModelInfo } from "../model-info.js";
import { writeFileAtomic } from "./atomic-write.js";
import { defaultCacheDir } from "./cache-dir.js";
import { fileByteSource } from "./file-byte-source.js";

export interface FingerprintOptions {
  /** Called as bytes are hashed. */
  onProgress?: (progress: { bytes: number; totalBytes: number }) => void;
  signal?: AbortSignal;
  /**
   * JSON file that keeps fingerprints across processes (keyed by path, size and mtime), so a
   * multi-GB model is hashed once. Defaults to `<cache dir>/fingerprints.json`; `false` keeps them
   * for this process only.
   */
  cacheFile?: string | false;
}

const memoryCache = new Map<string, string>();

/**
 * The fingerprint of a model file: the first 16 hex digits of its sha256, computed streaming and
 * cached by path + size + mtime (a changed file is hashed again).
 */
export async function fileFingerprint(path: string, options: FingerprintOptions = {}): Promise<string> {
  const cacheFile = options.cacheFile ?? join(defaultCacheDir(), "fingerprints.json");
  const absolute = resolve(path);
  const info = await stat(absolute);
  const key = `${absolute}\0${info.size}\0${info.mtimeMs}`;
  const cached = memoryCache.get(key) ?? (cacheFile ? (await readCacheFile(cacheFile))[key] : undefined);
  if (cached) {
    memoryCache.set(key, cached);
    return cached;
  }
  const hash = createHash("sha256");
  let bytes = 0;
  const stream = createReadStream(absolute, { highWaterMark: 4 << 20, ...(options.signal ? { signal: options.signal } : {}) });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      options.onProgress?.({ bytes, totalBytes: info.size });
    }
  } catch (error) {
    if (options.signal?.aborted) throw new AbortedError(`Hashing ${absolute}`);
    throw error;
  }
  const fingerprint = hash.digest("hex").slice(0, 16);
  memoryCache.set(key, fingerprint);
  if (cacheFile) {
    const entries = await readCacheFile(cacheFile);
    entries[key] = fingerprint;
    await writeFileAtomic(cacheFile, JSON.stringify(entries));
  }
  return fingerprint;
}

async function readCacheFile(cacheFile: string): Promise<Record<string, string>> {
  try {
    const parsed: unknown = JSON.parse(await readFile(cacheFile, "utf8"));
    return parsed && typeof parsed === "object" ? (parsed as Record<string, string>) : {};
  } catch {
    // Missing or damaged cache: start afresh (it only saves time).
    return {};
  }
}

/** The {@link ModelInfo} of a GGUF model file, fingerprint included. */
export async function readModelInfo(path: string, options: FingerprintOptions = {}): Promise<ModelInfo> {
  const source = await fileByteSource(path);
  try {
    const gguf = await openGguf(source, options.signal ? { signal: options.signal } : {});
    return modelInfoFromGguf(gguf, { fingerprint: await fileFingerprint(path, options) });
  } finally {
    await source.dispose();
  }
}
