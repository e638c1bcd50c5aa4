export { JUDGE_LABELS, type JudgeLabel, type LabelledText, decodeText, loadGoEmotions, loadIsear } from "./data.js";
export { MissingDataError, resolveDataDir, resolveCacheDir } from "./paths.js";
export {
  EmotionJudge,
  createJudge,
  loadJudge,
  saveJudge,
  trainJudge,
  judgeCachePath,
  isJudgeName,
  DEFAULT_JUDGE_SETTINGS,
  DEFAULT_JUDGE_NAME,
  JUDGE_NAMES,
  JUDGE_SETTINGS,
  V1_JUDGE_SETTINGS,
  V2_JUDGE_SETTINGS,
  COMMITTED_JUDGE_PATH,
  type JudgeName,
  type JudgeDataFile,
  type ProbabilityOptions,
  type JudgeSettings,
  type JudgeScore,
  type JudgeProgress,
  type CreateJudgeOptions,
  type TrainJudgeOptions,
  type JudgeEncoderOptions,
} from "./judge.js";
export type { FeatureSettings } from "./judge-features.js";
export type { TrainingSettings } from "./judge-training.js";
export { scoreClassification, type ClassificationScores } from "./judge-evaluation.js";
export {
  evaluateJudge,
  writeJudgeReport,
  scoreSet,
  type SetScores,
  type ReliabilityBin,
  type JudgeEvaluation,
  type JudgeReportOptions,
} from "./judge-report.js";
export {
  loadInDomain,
  loadContrastCorpus,
  leakingTrainRows,
  normaliseQuestion,
  INDOMAIN_LABELS,
  INDOMAIN_STYLES,
  type InDomainText,
  type InDomainStyle,
  type ContrastAnswer,
} from "./indomain-data.js";
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
export {
  OnnxSentenceEmbedder,
  loadOnnxSentenceEmbedder,
  type MiniLmPrecision,
  type EncoderThread,
  type OnnxSentenceEmbedderOptions,
} from "./embedding/minilm-onnx.js";
export { EmbeddingCache } from "./embedding/embedding-cache.js";
