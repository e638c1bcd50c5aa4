import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";

/**
 * What a generation was conditioned on, as stored: `"none"` (unsteered), `"ev:joy@1"` (one emotion
 * vector at α), `"prompt:joy"` (the emotion-conditioning system prompt, no steering) or
 * `"mix:fear@1+joy@1"` (several vectors, emotions sorted).
 */
export type Condition = string;

/** Identifies one generation cell; a re-run skips cells whose key is already stored. */
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
}

/** One finished generation and its judged scores. */
export interface CellRecord extends CellKey {
  readonly method: "none" | "ev" | "prompt" | "mix";
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
  /** Judge probability per class. */
  readonly judge: Readonly<Record<string, number>>;
  /** NRC lexicon score (EAS) per lexicon category. */
  readonly lexicon: Readonly<Record<string, number>>;
  /** Perplexity of the text under the unsteered model; null when the backend cannot score. */
  readonly perplexity: number | null;
  readonly distinct2: number;
  /** Similarity of the text to the unsteered answer to the same query; null when not computed. */
  readonly fidelity: number | null;
  readonly runId: string;
  readonly createdAt: string;
}

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
}

export interface LongTextRecord extends LongTextKey {
  readonly emotion: string;
  readonly alpha: number;
  readonly segments: readonly LongSegment[];
  readonly runId: string;
}

export interface RunRecord {
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  /** The options of the run, JSON-serialisable. */
  readonly options: unknown;
  /** Models/backends not run, with the reason. */
  readonly skipped: readonly { readonly model: string; readonly backend: string; readonly reason: string }[];
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
  model TEXT NOT NULL, backend TEXT NOT NULL, extraction TEXT NOT NULL, corpus TEXT NOT NULL,
  condition TEXT NOT NULL, query_id TEXT NOT NULL, max_tokens INTEGER NOT NULL, seed INTEGER NOT NULL,
  method TEXT NOT NULL, weights TEXT NOT NULL, query TEXT NOT NULL, text TEXT NOT NULL,
  generated_tokens INTEGER NOT NULL, finish_reason TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,
  prompt_ms REAL NOT NULL, decode_ms REAL NOT NULL, first_token_ms REAL NOT NULL,
  judge TEXT NOT NULL, lexicon TEXT NOT NULL, perplexity REAL, distinct2 REAL NOT NULL, fidelity REAL,
  run_id TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (model, backend, extraction, corpus, condition, query_id, max_tokens, seed)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS extractions (
  model TEXT NOT NULL, backend TEXT NOT NULL, extraction TEXT NOT NULL, corpus TEXT NOT NULL,
  corpus_hash TEXT NOT NULL, emotion TEXT NOT NULL, seconds REAL NOT NULL, queries INTEGER NOT NULL,
  vector_path TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (model, backend, extraction, corpus, corpus_hash, emotion)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latency (
  model TEXT NOT NULL, backend TEXT NOT NULL, max_tokens INTEGER NOT NULL, rep INTEGER NOT NULL, steered INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL, generated_tokens INTEGER NOT NULL, prompt_ms REAL NOT NULL, decode_ms REAL NOT NULL,
  first_token_ms REAL NOT NULL, run_id TEXT NOT NULL,
  PRIMARY KEY (model, backend, max_tokens, rep, steered)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS resources (
  run_id TEXT NOT NULL, model TEXT NOT NULL, backend TEXT NOT NULL, load_seconds REAL NOT NULL,
  peak_rss_bytes INTEGER NOT NULL, heap_used_bytes INTEGER NOT NULL, external_bytes INTEGER NOT NULL,
  PRIMARY KEY (run_id, model, backend)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS long_texts (
  model TEXT NOT NULL, backend TEXT NOT NULL, extraction TEXT NOT NULL, corpus TEXT NOT NULL,
  condition TEXT NOT NULL, query_id TEXT NOT NULL, kind TEXT NOT NULL, max_tokens INTEGER NOT NULL, seed INTEGER NOT NULL,
  emotion TEXT NOT NULL, alpha REAL NOT NULL, segments TEXT NOT NULL, run_id TEXT NOT NULL,
  PRIMARY KEY (model, backend, extraction, corpus, condition, query_id, kind, max_tokens, seed)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, options TEXT NOT NULL, skipped TEXT NOT NULL
) WITHOUT ROWID;
`;

const CELL_COLUMNS = [
  "model", "backend", "extraction", "corpus", "condition", "query_id", "max_tokens", "seed",
  "method", "weights", "query", "text", "generated_tokens", "finish_reason", "prompt_tokens",
  "prompt_ms", "decode_ms", "first_token_ms", "judge", "lexicon", "perplexity", "distinct2", "fidelity",
  "run_id", "created_at",
] as const;

const KEY_WHERE = "model = ? AND backend = ? AND extraction = ? AND corpus = ? AND condition = ? AND query_id = ? AND max_tokens = ? AND seed = ?";

function keyValues(k: CellKey): unknown[] {
  return [k.model, k.backend, k.extraction, k.corpus, k.condition, k.queryId, k.maxTokens, k.seed];
}

interface CellRow {
  model: string; backend: string; extraction: string; corpus: string; condition: string; query_id: string;
  max_tokens: number; seed: number; method: CellRecord["method"]; weights: string; query: string; text: string;
  generated_tokens: number; finish_reason: string; prompt_tokens: number; prompt_ms: number; decode_ms: number;
  first_token_ms: number; judge: string; lexicon: string; perplexity: number | null; distinct2: number;
  fidelity: number | null; run_id: string; created_at: string;
}

/**
 * The bench's durable results: one SQLite file in WAL mode with `synchronous = FULL`, so every
 * cell is on disk the moment {@link BenchStore.putCell} returns and a run killed at any point
 * resumes without losing or duplicating a cell (writes are keyed upserts).
 */
export class BenchStore {
  readonly path: string;
  readonly #db: Database.Database;
  #closed = false;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.#db = db;
  }

  /** Opens (creating when missing) the database at `path`. `readonly` opens an existing file without writing. */
  static open(path: string, options: { readonly readonly?: boolean } = {}): BenchStore {
    if (!options.readonly) mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    // Before anything else: another process (a reader polling progress, a second bench) may hold a lock briefly.
    db.pragma("busy_timeout = 10000");
    if (!options.readonly) {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.exec(SCHEMA);
      const version = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined;
      if (!version) db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
      else if (Number(version.value) !== SCHEMA_VERSION) {
        db.close();
        throw new Error(`Bench database ${path} has schema version ${version.value}, this bench writes ${SCHEMA_VERSION}: pass another --db path or delete the file.`);
      }
    }
    return new BenchStore(path, db);
  }

  get closed(): boolean {
    return this.#closed;
  }

  hasCell(key: CellKey): boolean {
    return this.#db.prepare(`SELECT 1 FROM cells WHERE ${KEY_WHERE}`).get(...keyValues(key)) !== undefined;
  }

  getCell(key: CellKey): CellRecord | undefined {
    const row = this.#db.prepare(`SELECT * FROM cells WHERE ${KEY_WHERE}`).get(...keyValues(key)) as CellRow | undefined;
    return row && cellFromRow(row);
  }

  /** Stores a finished cell (replacing one with the same key); durable when this returns. */
  putCell(cell: CellRecord): void {
    const values = [
      ...keyValues(cell), cell.method, JSON.stringify(cell.weights), cell.query, cell.text, cell.generatedTokens,
      cell.finishReason, cell.promptTokens, cell.promptMs, cell.decodeMs, cell.firstTokenMs, JSON.stringify(cell.judge),
      JSON.stringify(cell.lexicon), finiteOrNull(cell.perplexity), cell.distinct2, finiteOrNull(cell.fidelity), cell.runId, cell.createdAt,
    ];
    this.#db
      .prepare(`INSERT OR REPLACE INTO cells (${CELL_COLUMNS.join(", ")}) VALUES (${CELL_COLUMNS.map(() => "?").join(", ")})`)
      .run(...values);
  }

  /** Every stored cell, in key order. */
  cells(filter: Partial<Pick<CellKey, "model" | "backend" | "maxTokens" | "seed">> = {}): CellRecord[] {
    const clauses: string[] = [];
    const values: unknown[] = [];
    if (filter.model !== undefined) (clauses.push("model = ?"), values.push(filter.model));
    if (filter.backend !== undefined) (clauses.push("backend = ?"), values.push(filter.backend));
    if (filter.maxTokens !== undefined) (clauses.push("max_tokens = ?"), values.push(filter.maxTokens));
    if (filter.seed !== undefined) (clauses.push("seed = ?"), values.push(filter.seed));
    const where = clauses.length ? `WHERE ${clauses.join(" AND ")}` : "";
    const rows = this.#db.prepare(`SELECT * FROM cells ${where} ORDER BY model, backend, extraction, corpus, condition, query_id, max_tokens, seed`).all(...values) as CellRow[];
    return rows.map(cellFromRow);
  }

  countCells(): number {
    return (this.#db.prepare("SELECT COUNT(*) AS n FROM cells").get() as { n: number }).n;
  }

  putExtraction(r: ExtractionRecord): void {
    this.#db
      .prepare("INSERT OR REPLACE INTO extractions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(r.model, r.backend, r.extraction, r.corpus, r.corpusHash, r.emotion, r.seconds, r.queries, r.vectorPath, r.createdAt);
  }

  extractions(): ExtractionRecord[] {
    const rows = this.#db.prepare("SELECT * FROM extractions ORDER BY model, backend, extraction, corpus, emotion").all() as Record<string, unknown>[];
    return rows.map((r) => ({
      model: String(r.model), backend: String(r.backend), extraction: String(r.extraction), corpus: String(r.corpus),
      corpusHash: String(r.corpus_hash), emotion: String(r.emotion), seconds: Number(r.seconds), queries: Number(r.queries),
      vectorPath: String(r.vector_path), createdAt: String(r.created_at),
    }));
  }

  hasLatency(model: string, backend: string, maxTokens: number, rep: number, steered: boolean): boolean {
    return (
      this.#db.prepare("SELECT 1 FROM latency WHERE model = ? AND backend = ? AND max_tokens = ? AND rep = ? AND steered = ?").get(model, backend, maxTokens, rep, steered ? 1 : 0) !==
      undefined
    );
  }

  putLatency(r: LatencyRecord): void {
    this.#db
      .prepare("INSERT OR REPLACE INTO latency VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(r.model, r.backend, r.maxTokens, r.rep, r.steered ? 1 : 0, r.promptTokens, r.generatedTokens, r.promptMs, r.decodeMs, r.firstTokenMs, r.runId);
  }

  latency(): LatencyRecord[] {
    const rows = this.#db.prepare("SELECT * FROM latency ORDER BY model, backend, max_tokens, rep, steered").all() as Record<string, unknown>[];
    return rows.map((r) => ({
      model: String(r.model), backend: String(r.backend), maxTokens: Number(r.max_tokens), rep: Number(r.rep), steered: r.steered === 1,
      promptTokens: Number(r.prompt_tokens), generatedTokens: Number(r.generated_tokens), promptMs: Number(r.prompt_ms),
      decodeMs: Number(r.decode_ms), firstTokenMs: Number(r.first_token_ms), runId: String(r.run_id),
    }));
  }

  putResources(r: ResourceRecord): void {
    this.#db
      .prepare("INSERT OR REPLACE INTO resources VALUES (?, ?, ?, ?, ?, ?, ?)")
      .run(r.runId, r.model, r.backend, r.loadSeconds, r.peakRssBytes, r.heapUsedBytes, r.externalBytes);
  }

  resources(): ResourceRecord[] {
    const rows = this.#db.prepare("SELECT * FROM resources ORDER BY run_id, model, backend").all() as Record<string, unknown>[];
    return rows.map((r) => ({
      runId: String(r.run_id), model: String(r.model), backend: String(r.backend), loadSeconds: Number(r.load_seconds),
      peakRssBytes: Number(r.peak_rss_bytes), heapUsedBytes: Number(r.heap_used_bytes), externalBytes: Number(r.external_bytes),
    }));
  }

  hasLongText(k: LongTextKey): boolean {
    return (
      this.#db
        .prepare(`SELECT 1 FROM long_texts WHERE ${KEY_WHERE} AND kind = ?`)
        .get(...keyValues(k), k.kind) !== undefined
    );
  }

  putLongText(r: LongTextRecord): void {
    this.#db
      .prepare("INSERT OR REPLACE INTO long_texts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(r.model, r.backend, r.extraction, r.corpus, r.condition, r.queryId, r.kind, r.maxTokens, r.seed, r.emotion, r.alpha, JSON.stringify(r.segments), r.runId);
  }

  longTexts(): LongTextRecord[] {
    const rows = this.#db.prepare("SELECT * FROM long_texts ORDER BY model, backend, condition, query_id, kind").all() as Record<string, unknown>[];
    return rows.map((r) => ({
      model: String(r.model), backend: String(r.backend), extraction: String(r.extraction), corpus: String(r.corpus),
      condition: String(r.condition), queryId: String(r.query_id), kind: r.kind as LongTextKey["kind"], maxTokens: Number(r.max_tokens),
      seed: Number(r.seed), emotion: String(r.emotion), alpha: Number(r.alpha), segments: JSON.parse(String(r.segments)) as LongSegment[],
      runId: String(r.run_id),
    }));
  }

  startRun(r: Omit<RunRecord, "finishedAt">): void {
    this.#db.prepare("INSERT OR REPLACE INTO runs VALUES (?, ?, NULL, ?, ?)").run(r.runId, r.startedAt, JSON.stringify(r.options), JSON.stringify(r.skipped));
  }

  finishRun(runId: string, finishedAt: string): void {
    this.#db.prepare("UPDATE runs SET finished_at = ? WHERE run_id = ?").run(finishedAt, runId);
  }

  /** Runs, oldest first. */
  runs(): RunRecord[] {
    const rows = this.#db.prepare("SELECT * FROM runs ORDER BY started_at, run_id").all() as Record<string, unknown>[];
    return rows.map((r) => ({
      runId: String(r.run_id), startedAt: String(r.started_at), finishedAt: r.finished_at === null ? null : String(r.finished_at),
      options: JSON.parse(String(r.options)), skipped: JSON.parse(String(r.skipped)) as RunRecord["skipped"],
    }));
  }

  /** Closes the database after a checkpoint. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#db.readonly) this.#db.pragma("wal_checkpoint(TRUNCATE)");
    this.#db.close();
  }
}

function cellFromRow(r: CellRow): CellRecord {
  return {
    model: r.model, backend: r.backend, extraction: r.extraction, corpus: r.corpus, condition: r.condition, queryId: r.query_id,
    maxTokens: r.max_tokens, seed: r.seed, method: r.method, weights: JSON.parse(r.weights) as Record<string, number>, query: r.query,
    text: r.text, generatedTokens: r.generated_tokens, finishReason: r.finish_reason, promptTokens: r.prompt_tokens,
    promptMs: r.prompt_ms, decodeMs: r.decode_ms, firstTokenMs: r.first_token_ms, judge: JSON.parse(r.judge) as Record<string, number>,
    lexicon: JSON.parse(r.lexicon) as Record<string, number>, perplexity: r.perplexity, distinct2: r.distinct2, fidelity: r.fidelity,
    runId: r.run_id, createdAt: r.created_at,
  };
}

function finiteOrNull(x: number | null): number | null {
  return x !== null && Number.isFinite(x) ? x : null;
}
