export { JUDGE_LABELS, type JudgeLabel, type LabelledText, decodeText, loadGoEmotions, loadIsear } from "./data.js";
export { MissingDataError, resolveDataDir, resolveCacheDir } from "./paths.js";
export {
  EmotionJudge,
  createJudge,
  loadJudge,
  trainJudge,
  judgeCachePath,
  DEFAULT_JUDGE_SETTINGS,
  type JudgeSettings,
  type JudgeScore,
  type JudgeProgress,
  type CreateJudgeOptions,
  type TrainJudgeOptions,
} from "./judge.js";
export type { FeatureSettings } from "./judge-features.js";
export type { TrainingSettings } from "./judge-training.js";
export { scoreClassification, type ClassificationScores } from "./judge-evaluation.js";
export { evaluateJudge, writeJudgeReport, JUDGE_VARIANTS, type JudgeEvaluation, type JudgeReportOptions } from "./judge-report.js";
export { runJudgeCommand, type CommandIO } from "./judge-command.js";
export { LexiconScorer, loadLexicon, type LexiconScore, type LexiconOptions } from "./lexicon.js";
export * from "./metrics.js";
export { responsePerplexity, type ResponsePerplexity } from "./fluency.js";
export {
  SentenceEmbedder,
  loadSentenceEmbedder,
  ensureEmbeddingModel,
  EmbeddingModelError,
  MINILM_WHEEL,
  type EnsureEmbeddingModelOptions,
} from "./embedding/sentence-embedder.js";
