import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  corpusHash,
  decodeVectorFile,
  encodeVectorFile,
  extractEmotionVectors,
  isCoreEmotion,
  loadContrastCorpus,
  loadQueries,
  loadSystemPrompts,
  type Emotion,
  type EmotionVector,
  type ExtractionMethod,
  type ExtractionProgress,
  type SteeringBackend,
  type UserEmotion,
} from "@emosteer/core";
import { writeFileAtomic } from "@emosteer/core/node";

export interface VectorRequest {
  readonly backend: SteeringBackend;
  readonly emotions: readonly Emotion[];
  readonly userEmotions: readonly UserEmotion[];
  readonly method: ExtractionMethod;
  readonly corpus: "fixed" | "self";
  /** Contrast pairs to use (spread over the corpus); undefined = all. */
  readonly maxQueries?: number;
  /** Root of the vector cache (`<cache>/bench/vectors`). */
  readonly cacheDir: string;
  readonly onProgress?: (message: string) => void;
  /** Progress of a running extraction batch (backend calls done of total). */
  readonly onExtractionProgress?: (emotions: readonly Emotion[], progress: ExtractionProgress) => void;
  /** Called once per extraction batch that actually ran (not for cache hits). */
  readonly onExtracted?: (batch: { readonly emotions: readonly Emotion[]; readonly seconds: number; readonly queries: number; readonly corpusHash: string; readonly paths: readonly string[] }) => void;
  readonly signal?: AbortSignal;
}

/** Tokens of self-written responses (core's default, named here because it is part of the cache key). */
const SELF_TOKENS = 64;

/**
 * The emotion vectors of `emotions` for this model and backend: read from the cache when a file
 * for the same model fingerprint, backend, method and corpus hash exists, else extracted (core
 * emotions in one batch, each user emotion on its own) and cached as control-vector GGUF files.
 */
export async function vectorsFor(request: VectorRequest): Promise<Map<Emotion, EmotionVector>> {
  const { backend } = request;
  const vectors = new Map<Emotion, EmotionVector>();
  const core = request.emotions.filter(isCoreEmotion);
  const user = request.emotions.filter((e) => !isCoreEmotion(e));
  const batches: { emotions: Emotion[]; hash: string; corpus: "fixed" | "self" | { userEmotions: UserEmotion[] }; label: string }[] = [];
  if (core.length > 0) {
    batches.push({ emotions: core, hash: coreCorpusHash(request), corpus: request.corpus, label: request.corpus });
  }
  for (const emotion of user) {
    const definition = request.userEmotions.find((d) => d.name === emotion);
    if (!definition) throw new Error(`Emotion "${emotion}" is neither a core emotion nor defined by an --emotion-file: pass its definition file.`);
    batches.push({ emotions: [emotion], hash: corpusHash({ definition, maxQueries: request.maxQueries ?? null, queries: extractionQueries(), tokens: SELF_TOKENS }), corpus: { userEmotions: [definition] }, label: "user" });
  }
  for (const batch of batches) {
    const dir = join(request.cacheDir, backend.model.fingerprint, safe(backend.name), `${request.method}-${batch.label}-${batch.hash}`);
    const paths = new Map(batch.emotions.map((e) => [e, join(dir, `${e}.gguf`)]));
    if ([...paths.values()].every((p) => existsSync(p))) {
      // A plain Uint8Array copy: core's GGUF reader slices its input, and Buffer#slice shares the whole pooled buffer.
      for (const [emotion, path] of paths) vectors.set(emotion, await decodeVectorFile(new Uint8Array(readFileSync(path)), { expectedModel: backend.model, name: path }));
      request.onProgress?.(`loaded cached vectors ${batch.emotions.join(", ")} from ${dir}`);
      continue;
    }
    const started = performance.now();
    const extracted = await extractEmotionVectors(backend, {
      emotions: batch.emotions,
      method: request.method,
      corpus: batch.corpus,
      ...(request.maxQueries !== undefined ? { maxQueries: request.maxQueries } : {}),
      ...(batch.label !== "fixed" ? { maxTokens: SELF_TOKENS } : {}),
      onProgress: (p: ExtractionProgress) => request.onExtractionProgress?.(batch.emotions, p),
      ...(request.signal ? { signal: request.signal } : {}),
    });
    const seconds = (performance.now() - started) / 1000;
    let queries = 0;
    for (const [emotion, path] of paths) {
      const vector = extracted.get(emotion);
      if (!vector) throw new Error(`Extraction returned no vector for "${emotion}".`);
      await writeFileAtomic(path, encodeVectorFile(vector));
      vectors.set(emotion, vector);
      queries = Math.max(queries, vector.provenance.samples);
    }
    request.onExtracted?.({ emotions: batch.emotions, seconds, queries, corpusHash: batch.hash, paths: [...paths.values()] });
  }
  return vectors;
}

function coreCorpusHash(request: VectorRequest): string {
  const maxQueries = request.maxQueries ?? null;
  if (request.corpus === "fixed") return corpusHash({ corpus: loadContrastCorpus(), queries: loadQueries().queries.map((q) => [q.id, q.text]), maxQueries });
  return corpusHash({ systemPrompts: loadSystemPrompts(), queries: extractionQueries(), maxQueries, tokens: SELF_TOKENS });
}

function extractionQueries(): string[] {
  return loadQueries().queries.filter((q) => q.split === "extraction").map((q) => q.text);
}

function safe(name: string): string {
  return name.replace(/[^a-zA-Z0-9._-]/g, "_");
}
