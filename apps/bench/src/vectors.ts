import type { CachedEmotionVectorsOptions } from "@emosteer/core/node";
import type { BenchOptions, ContrastCorpus } from "./options.js";

/**
 * What decides which cached vectors the bench uses for `corpus`: the same cache root, method,
 * corpus and number of contrast pairs as the CLI's `extract`/`generate`/`demo` with the same
 * settings, so a vector the demo extracted is a cache hit here, never a second extraction.
 */
export function benchVectorSource(
  options: BenchOptions,
  corpus: ContrastCorpus,
): Pick<CachedEmotionVectorsOptions, "method" | "corpus" | "maxQueries" | "cacheDir"> {
  return {
    method: options.method,
    corpus,
    ...(options.extractionQueries !== "all" ? { maxQueries: options.extractionQueries } : {}),
    cacheDir: options.vectorCache,
  };
}
