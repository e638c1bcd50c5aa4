import { JUDGE_LABELS, type JudgeName, cosineSimilarity, createJudge, loadSentenceEmbedder } from "@emosteer/eval";

/**
 * What the search measures answers with: the judge's probability of the emotion (EPS) and the
 * similarity of a steered answer to the unsteered one (fidelity). An interface so the search can be
 * tested without models; {@link loadCalibrationScorer} is the real one (the eval package's judge
 * and MiniLM, as the bench uses).
 */
export interface CalibrationScorer {
  /** Id of the judge (its weights hash), recorded in the profile and the cache keys. */
  readonly judgeId: string;
  /** The judge's probability of `emotion` for each text. */
  emotionProbabilities(texts: readonly string[], emotion: string): Promise<number[]>;
  /** Similarity in [−1, 1] of `text` to `reference`. */
  similarity(text: string, reference: string): Promise<number>;
  dispose(): Promise<void>;
}

/** The eval package's judge (v2 by default) and MiniLM cosine similarity, loaded (and fetched into the cache) on first use. */
export async function loadCalibrationScorer(
  options: { readonly judge?: JudgeName; readonly onProgress?: (message: string) => void } = {},
): Promise<CalibrationScorer> {
  const judge = await createJudge({
    ...(options.judge ? { judge: options.judge } : {}),
    onProgress: (p) => options.onProgress?.(`judge: ${p.message}`),
  });
  options.onProgress?.("loading sentence embedder (all-MiniLM-L6-v2)");
  const embedder = await loadSentenceEmbedder();
  const references = new Map<string, Float32Array>();
  return {
    judgeId: judge.id,
    async emotionProbabilities(texts, emotion) {
      const c = (JUDGE_LABELS as readonly string[]).indexOf(emotion);
      if (c < 0)
        throw new RangeError(`the judge has no class "${emotion}" (it knows ${JUDGE_LABELS.join(", ")}): calibrate core emotions only.`);
      return (await judge.probabilitiesMany(texts)).map((p) => p[c]!);
    },
    async similarity(text, reference) {
      if (text === reference) return 1;
      let r = references.get(reference);
      if (!r) {
        r = embedder.embed(reference);
        references.set(reference, r);
      }
      return cosineSimilarity(embedder.embed(text), r);
    },
    async dispose() {
      await judge.dispose();
      embedder.dispose();
    },
  };
}
