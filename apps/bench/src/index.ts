export { runBench, type RunResult, type RunScope, type SkippedEngine } from "./run.js";
export { BenchStore, type CellKey, type CellRecord } from "./store.js";
export { writeReport, buildSummary, type BenchSummary, type ReportFiles } from "./report.js";
export type { CorpusComparison, CorpusComparisonRow, VectorCosine } from "./corpus-comparison.js";
export type { SummaryRow, ExtractionRow, LatencyRow, LongTextRow } from "./aggregate.js";
export { parseBenchArgs, BenchUsageError, DEFAULT_ALPHAS, type BenchOptions } from "./options.js";
export { ProgressBar } from "./progress.js";
export { benchVectorSource } from "./vectors.js";
