import { type CoreEmotion, isCoreEmotion, loadContrastCorpus, loadQueries } from "@emosteer/core";
import type { ContrastExample } from "./calibrate.js";

export interface CalibrationData {
  /** Extraction-split query texts to generate on. */
  readonly queries: readonly string[];
  /** Their contrast answers for `emotion` (core emotions only). */
  readonly contrast: readonly ContrastExample[];
}

/**
 * The built-in extraction-split queries (never the evaluation split, never the judge's data), the
 * first `count` of them, with their contrast answers for `emotion` when it is a core emotion.
 * `contrastCount` of them (default 4) feed the teacher-forced pre-score.
 */
export function extractionCalibrationData(
  emotion: string,
  options: { readonly count?: number; readonly contrastCount?: number } = {},
): CalibrationData {
  const extraction = loadQueries().queries.filter((q) => q.split === "extraction");
  // Spread over the emotions the queries evoke (the split is ordered by emotion), so the search
  // does not see one kind of situation only.
  const count = Math.min(options.count ?? 6, extraction.length);
  const picked = Array.from({ length: count }, (_, i) => extraction[Math.floor((i * extraction.length) / count)]!);
  const items = new Map(loadContrastCorpus().items.map((item) => [item.queryId, item]));
  const contrast = isCoreEmotion(emotion)
    ? picked.slice(0, options.contrastCount ?? 4).flatMap((q) => {
        const item = items.get(q.id);
        return item ? [{ query: q.text, neutral: item.neutral, emotional: item.emotional[emotion as CoreEmotion] }] : [];
      })
    : [];
  return { queries: picked.map((q) => q.text), contrast };
}
