import type { EngineSetup } from "./cell-identity.js";
import { canonicalJson, hashText } from "./cell-identity.js";

/**
 * What a generation was conditioned on, as stored: `"none"` (unsteered), `"ev:joy@1"` (one emotion
 * vector at α), `"prompt:joy"` (the emotion-conditioning system prompt, no steering),
 * `"prompt:joy+ev:joy@-1"` (that prompt plus the same emotion's vector at α) or
 * `"mix:fear@1+joy@1"` (several vectors, emotions sorted).
 */
export type Condition = string;

/**
 * Identifies one generation cell by everything that changes its text: the grid coordinates, the
 * engine setup (weights fingerprint, engine numerics, chat template, steering spec, sampling,
 * code format: {@link EngineSetup}, by hash) and the hash of the query text. A re-run skips cells
 * whose key is already stored.
 */
export interface CellKey {
  readonly model: string;
  readonly backend: string;
  /** Extraction method of the vectors (`"-"` for conditions without vectors). */
  readonly extraction: string;
  /** Corpus the vectors came from (`"fixed"`, `"self"`; `"-"` without vectors). */
  readonly corpus: string;
  readonly condition: Condition;
  readonly queryId: string;
  readonly maxTokens: number;
  readonly seed: number;
  /** Hash of the {@link EngineSetup} the text was made with. */
  readonly setupHash: string;
  /** sha256 (16 hex) of the query text. */
  readonly queryHash: string;
}

/** The stable id of a cell: a hash of its whole key (what judgements and jobs refer to). */
export function cellId(key: CellKey): string {
  const { model, backend, extraction, corpus, condition, queryId, maxTokens, seed, setupHash, queryHash } = key;
  return hashText(canonicalJson({ model, backend, extraction, corpus, condition, queryId, maxTokens, seed, setupHash, queryHash }), 32);
}

/** One finished generation: its text and the figures that depend on the text alone (never on the judge). */
export interface CellText extends CellKey {
  readonly method: "none" | "ev" | "prompt" | "prompt-ev" | "mix";
  /** Emotion weights applied (`{}` for none, `{ joy: 1 }` for prompt:joy, α per emotion otherwise). */
  readonly weights: Readonly<Record<string, number>>;
  readonly query: string;
  readonly text: string;
  readonly generatedTokens: number;
  readonly finishReason: string;
  readonly promptTokens: number;
  readonly promptMs: number;
  readonly decodeMs: number;
  readonly firstTokenMs: number;
  /** Perplexity of the text under the unsteered model; null when the backend cannot score. */
  readonly perplexity: number | null;
  readonly distinct2: number;
  /** Similarity of the text to the unsteered answer to the same query; null when not computed. */
  readonly fidelity: number | null;
  readonly runId: string;
  readonly createdAt: string;
}

/** What one judge made of one text: kept apart from the text, keyed by cell and judge id. */
export interface Judgement {
  /** The judge's id (its weights hash). */
  readonly judgeId: string;
  /** The judge's name (`"v1"`, `"v2"`, a file name). */
  readonly judgeName: string;
  /** Judge probability per class. */
  readonly judge: Readonly<Record<string, number>>;
  /** NRC lexicon score (EAS) per lexicon category. */
  readonly lexicon: Readonly<Record<string, number>>;
}

/** A cell's text with one judge's judgement. */
export interface CellRecord extends CellText, Judgement {}

export interface ExtractionRecord {
  readonly model: string;
  readonly backend: string;
  readonly extraction: string;
  readonly corpus: string;
  readonly corpusHash: string;
  readonly emotion: string;
  readonly seconds: number;
  readonly queries: number;
  readonly vectorPath: string;
  readonly createdAt: string;
}

/** One timed generation of the interleaved latency measurement. */
export interface LatencyRecord {
  readonly model: string;
  readonly backend: string;
  readonly maxTokens: number;
  readonly rep: number;
  readonly steered: boolean;
  readonly promptTokens: number;
  readonly generatedTokens: number;
  readonly promptMs: number;
  readonly decodeMs: number;
  readonly firstTokenMs: number;
  readonly runId: string;
}

/** Peak memory and load time of one model on one backend in one run. */
export interface ResourceRecord {
  readonly runId: string;
  readonly model: string;
  readonly backend: string;
  readonly loadSeconds: number;
  readonly peakRssBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
}

/** One segment (window or turn) of a long-text generation, judged. */
export interface LongSegment {
  readonly index: number;
  readonly text: string;
  readonly judge: Readonly<Record<string, number>>;
}

export interface LongTextKey {
  readonly model: string;
  readonly backend: string;
  readonly extraction: string;
  readonly corpus: string;
  readonly condition: Condition;
  readonly queryId: string;
  /** `"windows"`: one long answer cut into fixed token windows; `"turns"`: one segment per dialogue turn. */
  readonly kind: "windows" | "turns";
  readonly maxTokens: number;
  readonly seed: number;
  readonly setupHash: string;
}

export interface LongTextRecord extends LongTextKey {
  readonly emotion: string;
  readonly alpha: number;
  readonly segments: readonly LongSegment[];
  readonly runId: string;
  /** The judge that scored the segments. */
  readonly judgeId: string;
}

/** The machine, engine libraries and judge of a run, recorded when it ran. */
export interface RunProvenance {
  readonly machine: {
    readonly cpuModel: string;
    readonly cores: number;
    readonly memoryBytes: number;
    /** 1, 5 and 15 minute load averages when the run started. */
    readonly loadAverage: readonly number[];
    readonly hostname: string;
    readonly platform: string;
    readonly node: string;
  };
  /** Library and version per engine (`{ "llama.cpp": "node-llama-cpp 3.21.1", … }`). */
  readonly engines: Readonly<Record<string, string>>;
  readonly judge: { readonly name: string; readonly id: string } | null;
}

export interface RunRecord {
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  /** The options of the run, JSON-serialisable. */
  readonly options: unknown;
  /** Models/backends not run, with the reason; `failed` ones failed the run. */
  readonly skipped: readonly { readonly model: string; readonly backend: string; readonly reason: string; readonly failed?: boolean }[];
  readonly provenance: RunProvenance | null;
}

/** One engine setup stored for a model and backend. */
export interface SetupRecord {
  readonly model: string;
  readonly backend: string;
  readonly setupHash: string;
  readonly setup: EngineSetup;
}

/** How many cells each judge has scored. */
export interface JudgeCount {
  readonly judgeId: string;
  readonly judgeName: string;
  readonly cells: number;
}

/** One try at one cell (a worker, or the single process): written when it starts and when it is stored. */
export interface AttemptRecord {
  readonly cellId: string;
  readonly worker: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
}

export interface CellFilter {
  readonly model?: string;
  readonly backend?: string;
  readonly maxTokens?: number;
  readonly seed?: number;
}

/**
 * The bench's durable results. One interface, two implementations: SQLite (the embedded default,
 * `sqlite-store.ts`) and PostgreSQL (many machines, `postgres-store.ts`); the report reads either
 * the same way. Texts are written once (a second write of the same key keeps the first text:
 * at-least-once delivery stays idempotent), judgements are upserted per cell and judge.
 */
export interface BenchStore {
  /** What to show for the database (a path or a URL without password). */
  readonly path: string;
  readonly closed: boolean;
  hasCell(key: CellKey): Promise<boolean>;
  /** The cell with the judgement of `judgeId` (or its latest judgement). */
  getCell(key: CellKey, judgeId?: string): Promise<CellRecord | undefined>;
  /** Stores a finished cell's text (kept when already stored) and its judgement, in one transaction; closes `attempt`'s open try. */
  putCell(cell: CellRecord, attempt?: { readonly worker: string }): Promise<void>;
  /** Adds or replaces the judgement of one judge on a stored cell. Texts are untouched. */
  putJudgement(key: CellKey, judgement: Judgement): Promise<void>;
  /** Stored cells with the judgement of `judgeId` (cells that judge has not scored are left out), in key order. */
  cells(filter?: CellFilter & { readonly judgeId?: string }): Promise<CellRecord[]>;
  /** Stored texts without judgements, in key order. */
  texts(filter?: CellFilter): Promise<CellText[]>;
  countCells(): Promise<number>;
  judges(): Promise<JudgeCount[]>;
  putSetup(record: SetupRecord): Promise<void>;
  setups(filter?: { readonly model?: string; readonly backend?: string }): Promise<SetupRecord[]>;
  putExtraction(r: ExtractionRecord): Promise<void>;
  extractions(): Promise<ExtractionRecord[]>;
  hasLatency(model: string, backend: string, maxTokens: number, rep: number, steered: boolean): Promise<boolean>;
  putLatency(r: LatencyRecord): Promise<void>;
  latency(): Promise<LatencyRecord[]>;
  putResources(r: ResourceRecord): Promise<void>;
  resources(): Promise<ResourceRecord[]>;
  hasLongText(k: LongTextKey): Promise<boolean>;
  putLongText(r: LongTextRecord): Promise<void>;
  /** Long texts, each with the segment judgements of `judgeId` (or of its latest judge). */
  longTexts(judgeId?: string): Promise<LongTextRecord[]>;
  /** Replaces the segment judgements of a stored long text for one judge. */
  putLongJudgement(key: LongTextKey, judgeId: string, judges: readonly Readonly<Record<string, number>>[]): Promise<void>;
  startRun(r: Omit<RunRecord, "finishedAt">): Promise<void>;
  finishRun(runId: string, finishedAt: string): Promise<void>;
  /** Runs, oldest first. */
  runs(): Promise<RunRecord[]>;
  /** Records that `worker` started a try at a cell. */
  startAttempt(cellId: string, worker: string): Promise<void>;
  attempts(): Promise<AttemptRecord[]>;
  close(): Promise<void>;
}

/** Opens the store `db` names: a `postgres://` (or `postgresql://`) URL, or a SQLite file path. */
export async function openStore(db: string, options: { readonly readonly?: boolean } = {}): Promise<BenchStore> {
  if (isPostgresUrl(db)) {
    const { PostgresBenchStore } = await import("./postgres-store.js");
    return PostgresBenchStore.open(db);
  }
  const { SqliteBenchStore } = await import("./sqlite-store.js");
  return SqliteBenchStore.open(db, options);
}

export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//.test(db);
}

/** Thrown when a database was written by an older bench whose cells cannot be keyed by what made them. */
export class StoreFormatError extends Error {}
