export { writeFileAtomic } from "./atomic-write.js";
export { fileByteSource } from "./file-byte-source.js";
export type { FileByteSource } from "./file-byte-source.js";
export { fileFingerprint, readModelInfo } from "./model-file.js";
export type { FingerprintOptions } from "./model-file.js";
export { loadVectorFile, saveVectorFile } from "./vector-file.js";
export { defaultCacheDir, defaultVectorCacheDir } from "./cache-dir.js";
export { cachedEmotionVectors } from "./emotion-vector-cache.js";
export type { CachedBatch, CachedEmotionVectorsOptions } from "./emotion-vector-cache.js";
export { writeJsonKey, writeMarkdownSection } from "./benchmark-files.js";
export {
  BenchArms,
  numberFlag,
  onePairJoyVector,
  peakRssDuring,
  round3,
  rssAboveBase,
  rssPerSequence,
  runBatchedBench,
  runInterleaved,
  runSessionBenchArms,
  SESSION_BENCH_PROMPTS,
  serveRequests,
  sessionBenchResult,
  sessionBenchSetup,
  sessionBenchSpecs,
  sessionBenchTables,
} from "./session-bench.js";
export type { BatchedBenchEngine, BenchRun, RssSample, ServeOptions, SessionBenchResult, SessionBenchSetup } from "./session-bench.js";
export { WorkerCallError, WorkerRpc, wireView, workerExecArgv } from "./worker-rpc.js";
export type { WorkerCallContext, WorkerHandlers, WorkerRpcOptions } from "./worker-rpc.js";
export { runSessionThreadPairs, SESSION_THREAD_PROMPTS, sessionThreadArm, sessionThreadTable } from "./session-thread-bench.js";
export type { SessionThreadArm, SessionThreadFigures } from "./session-thread-bench.js";
