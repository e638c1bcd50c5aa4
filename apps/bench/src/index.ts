export { runBench, type RunResult, type RunScope, type SkippedEngine } from "./run.js";
export { openStore, cellId, type BenchStore, type CellKey, type CellRecord, type CellText, type Judgement } from "./store.js";
export { SqliteBenchStore } from "./sqlite-store.js";
export { writeReport, buildSummary, type BenchSummary, type ReportFiles } from "./report.js";
export type { CorpusComparison, CorpusComparisonRow, VectorCosine } from "./corpus-comparison.js";
export type { SummaryRow, ExtractionRow, LatencyRow, LongTextRow } from "./aggregate.js";
export { parseBenchArgs, BenchUsageError, DEFAULT_ALPHAS, type BenchOptions } from "./options.js";
export { ProgressBar } from "./progress.js";
export { benchVectorSource } from "./vectors.js";
