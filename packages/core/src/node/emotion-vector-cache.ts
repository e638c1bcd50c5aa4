import { stat } from "node:fs/promises";
import { join } from "node:path";
import { corpusHash } from "../corpus-hash.js";
import { CORE_EMOTIONS, isCoreEmotion, type Emotion } from "../emotion.js";
import type { EmotionVector, ExtractionMethod } from "../emotion-vector.js";
import { UnknownEmotionError } from "../errors.js";
import { extractEmotionVectors, type ExtractionProgress } from "../extract-emotion-vectors.js";
import { type ContrastCorpusName, loadContrastCorpus, loadQueries, loadSystemPrompts } from "../prompts.js";
import type { SteeringBackend } from "../steering-backend.js";
import type { UserEmotion } from "../user-emotion.js";
import { defaultVectorCacheDir } from "./cache-dir.js";
import { loadVectorFile, saveVectorFile } from "./vector-file.js";

export interface CachedEmotionVectorsOptions {
  /** Defaults to the five core emotions. User emotions need their definition in `userEmotions`. */
  readonly emotions?: readonly Emotion[];
  readonly userEmotions?: readonly UserEmotion[];
  /** Defaults to `"mean-diff"` (the paper). */
  readonly method?: ExtractionMethod;
  /** Defaults to `"fixed"` (the repo's contrast corpus). */
  readonly corpus?: ContrastCorpusName;
  /** Use at most this many contrast pairs. Defaults to all. */
  readonly maxQueries?: number;
  /** Length of self-written responses. Defaults to 64. */
  readonly selfTokens?: number;
  /** Root of the cache. Defaults to {@link defaultVectorCacheDir} (`<defaultCacheDir()>/vectors`), shared by the CLI and the bench. */
  readonly cacheDir?: string;
  readonly onProgress?: (progress: ExtractionProgress & { readonly emotions: readonly Emotion[] }) => void;
  /** Called once per extraction that actually ran (not for cache hits). */
  readonly onExtracted?: (batch: CachedBatch & { readonly seconds: number; readonly queries: number }) => void;
  /** Called once per batch found in the cache. */
  readonly onCacheHit?: (batch: CachedBatch) => void;
  readonly signal?: AbortSignal;
}

/** One extraction batch of the cache: the core emotions together, or one user emotion. */
export interface CachedBatch {
  readonly emotions: readonly Emotion[];
  /** Hash of everything the vectors were made from (corpus or definition, queries, limits). */
  readonly corpusHash: string;
  readonly paths: readonly string[];
}

/**
 * The emotion vectors for the backend's model: read from the cache when files for the same model
 * fingerprint, engine, method and corpus hash exist, otherwise extracted (core emotions in one pass,
 * each user emotion on its own) and saved as control-vector GGUF files.
 *
 * Cache layout: `<cacheDir>/<fingerprint>/<engine>/<method>-<corpus>-<hash>/<emotion>.gguf`.
 *
 * @example
 * const vectors = await cachedEmotionVectors(backend, { onProgress: (p) => console.log(p.done, "/", p.total) });
 * const steerer = await Steerer.create(backend, { vectors });
 */
export async function cachedEmotionVectors(
  backend: SteeringBackend,
  options: CachedEmotionVectorsOptions = {},
): Promise<Map<Emotion, EmotionVector>> {
  const method = options.method ?? "mean-diff";
  const corpus = options.corpus ?? "fixed";
  const selfTokens = options.selfTokens ?? 64;
  const maxQueries = options.maxQueries ?? null;
  const root = options.cacheDir ?? defaultVectorCacheDir();
  const emotions = options.emotions ?? CORE_EMOTIONS;

  const batches: { emotions: Emotion[]; label: string; hash: string; corpus: ContrastCorpusName | { userEmotions: UserEmotion[] } }[] = [];
  const core = emotions.filter(isCoreEmotion);
  if (core.length > 0) {
    const hash =
      corpus === "fixed" || corpus === "fixed-v2"
        ? corpusHash({ corpus: loadContrastCorpus(corpus), queries: loadQueries().queries.map((q) => [q.id, q.text]), maxQueries })
        : corpusHash({ systemPrompts: loadSystemPrompts(), queries: extractionQueries(), maxQueries, selfTokens });
    batches.push({ emotions: core, label: corpus, hash, corpus });
  }
  for (const emotion of emotions.filter((e) => !isCoreEmotion(e))) {
    const definition = options.userEmotions?.find((d) => d.name === emotion);
    if (!definition) throw new UnknownEmotionError(emotion, [...CORE_EMOTIONS, ...(options.userEmotions ?? []).map((d) => d.name)]);
    const hash = corpusHash({ definition, queries: extractionQueries(), maxQueries, selfTokens });
    batches.push({ emotions: [emotion], label: "user", hash, corpus: { userEmotions: [definition] } });
  }

  const vectors = new Map<Emotion, EmotionVector>();
  for (const batch of batches) {
    const dir = join(root, backend.model.fingerprint, fileSafe(backend.name), `${method}-${batch.label}-${batch.hash}`);
    const paths = new Map(batch.emotions.map((e) => [e, join(dir, `${e}.gguf`)]));
    const cached: CachedBatch = { emotions: batch.emotions, corpusHash: batch.hash, paths: [...paths.values()] };
    if (await allExist(cached.paths)) {
      for (const [emotion, path] of paths) vectors.set(emotion, await loadVectorFile(path, { expectedModel: backend.model }));
      options.onCacheHit?.(cached);
      continue;
    }
    const started = performance.now();
    const extracted = await extractEmotionVectors(backend, {
      emotions: batch.emotions,
      method,
      corpus: batch.corpus,
      ...(maxQueries !== null ? { maxQueries } : {}),
      ...(batch.label === "self" || batch.label === "user" ? { maxTokens: selfTokens } : {}),
      onProgress: (p) => options.onProgress?.({ ...p, emotions: batch.emotions }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const seconds = (performance.now() - started) / 1000;
    let queries = 0;
    for (const [emotion, path] of paths) {
      const vector = extracted.get(emotion);
      if (!vector) throw new Error(`Extraction returned no vector for "${emotion}": this is a bug in the extraction, please report it.`);
      await saveVectorFile(path, vector);
      vectors.set(emotion, vector);
      queries = Math.max(queries, vector.provenance.samples);
    }
    options.onExtracted?.({ ...cached, seconds, queries });
  }
  return vectors;
}

function extractionQueries(): string[] {
  return loadQueries()
    .queries.filter((q) => q.split === "extraction")
    .map((q) => q.text);
}

async function allExist(paths: readonly string[]): Promise<boolean> {
  const found = await Promise.all(
    paths.map((p) =>
      stat(p).then(
        () => true,
        () => false,
      ),
    ),
  );
  return found.every(Boolean);
}

function fileSafe(name: string): string {
  return name.replace(/[^a-zA-Z0-9._-]/g, "_");
}
