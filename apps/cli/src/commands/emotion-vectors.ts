import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { EmosteerError, InvalidFileError, type Emotion, type EmotionVector, type ModelInfo, type SteeringBackend } from "@emosteer/core";
import { cachedEmotionVectors, type CachedEmotionVectorsOptions, loadVectorFile } from "@emosteer/core/node";
import { progressBar, progressLine } from "../progress.js";
import { UsageError } from "../usage-error.js";

/**
 * What every command passes to `cachedEmotionVectors`: the cache root (`--vector-cache`;
 * undefined: core's default) and a progress bar on stderr timed from this call.
 */
export function extractionProgress(vectorCache: string | undefined): Pick<CachedEmotionVectorsOptions, "cacheDir" | "onProgress"> {
  const started = Date.now();
  return {
    ...(vectorCache !== undefined ? { cacheDir: vectorCache } : {}),
    onProgress: (p) => progressLine(progressBar(p.done, p.total, started, `extracting ${p.emotions.join(",")} (${p.phase}) `)),
  };
}

/**
 * The five core EVs for the backend's model, from the vector cache or extracted on first use (the
 * paper's method, the fixed corpus) with a progress bar on stderr; says on stdout which happened.
 * `vectorCache` is the cache root (undefined: core's default).
 */
export async function coreEmotionVectors(backend: SteeringBackend, vectorCache: string | undefined): Promise<Map<Emotion, EmotionVector>> {
  const extractionStart = Date.now();
  let extracted = false;
  const vectors = await cachedEmotionVectors(backend, {
    ...(vectorCache !== undefined ? { cacheDir: vectorCache } : {}),
    onProgress: (p) => progressLine(progressBar(p.done, p.total, extractionStart, `extracting ${p.emotions.length} EVs (${p.phase}) `)),
    onExtracted: (b) => {
      extracted = true;
      progressLine("");
      console.log(
        `extracted ${b.emotions.join(", ")} from ${b.queries} contrast pairs in ${b.seconds.toFixed(1)} s; saved to ${b.paths[0]?.replace(/\/[^/]+$/, "")}`,
      );
    },
  });
  if (!extracted) console.log("EVs loaded from cache.");
  return vectors;
}

/**
 * Every vector file (`*.gguf`) in `dir`, checked against `model` (format, shape, fingerprint) and
 * keyed by the emotion it holds; two files for one emotion, or none at all, is an error.
 */
export async function folderEmotionVectors(dir: string, model: ModelInfo, option = "--vectors"): Promise<Map<Emotion, EmotionVector>> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith(".gguf")).sort();
  } catch (error) {
    throw new UsageError(`${option}: cannot read folder "${dir}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (files.length === 0) throw new UsageError(`${option}: "${dir}" holds no vector files (*.gguf, as "emosteer extract --out" writes)`);
  const vectors = new Map<Emotion, EmotionVector>();
  for (const file of files) {
    const path = join(dir, file);
    let vector: EmotionVector;
    try {
      vector = await loadVectorFile(path, { expectedModel: model });
    } catch (error) {
      // InvalidFileError and file-system errors already carry the path.
      if (error instanceof EmosteerError && !(error instanceof InvalidFileError))
        throw new EmosteerError(`${option} ${path}: ${error.message}`, { cause: error });
      throw error;
    }
    if (vectors.has(vector.emotion))
      throw new UsageError(`${option}: two files in "${dir}" hold "${vector.emotion}"; keep one per emotion`);
    vectors.set(vector.emotion, vector);
  }
  return vectors;
}
