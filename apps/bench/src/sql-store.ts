import type { EngineSetup } from "./cell-identity.js";
import { canonicalJson, hashText } from "./cell-identity.js";
import {
  cellId,
  StoreFormatError,
  type AttemptRecord,
  type BenchStore,
  type CellFilter,
  type CellKey,
  type CellRecord,
  type CellText,
  type ExtractionRecord,
  type JudgeCount,
  type Judgement,
  type LatencyRecord,
  type LongSegment,
  type LongTextKey,
  type LongTextRecord,
  type ResourceRecord,
  type RunRecord,
  type SetupRecord,
} from "./store.js";

/**
 * The few calls the store needs from a database, so that one set of SQL statements serves
 * SQLite and PostgreSQL. Statements use `?` placeholders (the PostgreSQL driver numbers them);
 * both dialects accept `INSERT … ON CONFLICT`.
 */
export interface SqlDriver {
  readonly dialect: "sqlite" | "postgres";
  all(sql: string, params?: readonly unknown[]): Promise<Record<string, unknown>[]>;
  run(sql: string, params?: readonly unknown[]): Promise<void>;
  /** Runs `fn` in one transaction on one connection (committed when it resolves, rolled back when it throws). */
  transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The schema version this bench writes. 1: cells keyed by grid coordinates only, judge columns inline. */
export const SCHEMA_VERSION = 2;

/** The schema in either dialect (only the float and big-integer types differ). */
export function schemaSql(dialect: SqlDriver["dialect"]): string {
  const REAL = dialect === "postgres" ? "DOUBLE PRECISION" : "REAL";
  const BIG = dialect === "postgres" ? "BIGINT" : "INTEGER";
  const SERIAL = dialect === "postgres" ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
  return `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
  cell_id TEXT PRIMARY KEY,
  model TEXT NOT NULL, backend TEXT NOT NULL, extraction TEXT NOT NULL, corpus TEXT NOT NULL,
  condition TEXT NOT NULL, query_id TEXT NOT NULL, max_tokens INTEGER NOT NULL, seed ${BIG} NOT NULL,
  setup_hash TEXT NOT NULL, query_hash TEXT NOT NULL,
  method TEXT NOT NULL, weights TEXT NOT NULL, query TEXT NOT NULL, text TEXT NOT NULL,
  generated_tokens INTEGER NOT NULL, finish_reason TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,
  prompt_ms ${REAL} NOT NULL, decode_ms ${REAL} NOT NULL, first_token_ms ${REAL} NOT NULL,
  perplexity ${REAL}, distinct2 ${REAL} NOT NULL, fidelity ${REAL},
  run_id TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cells_engine ON cells (model, backend);
CREATE TABLE IF NOT EXISTS judgements (
  judgement_id ${SERIAL},
  cell_id TEXT NOT NULL REFERENCES cells (cell_id), judge_id TEXT NOT NULL, judge_name TEXT NOT NULL,
  judge TEXT NOT NULL, lexicon TEXT NOT NULL, created_at TEXT NOT NULL,
  UNIQUE (cell_id, judge_id)
);
CREATE TABLE IF NOT EXISTS setups (
  model TEXT NOT NULL, backend TEXT NOT NULL, setup_hash TEXT NOT NULL, setup TEXT NOT NULL,
  PRIMARY KEY (model, backend, setup_hash)
);
CREATE TABLE IF NOT EXISTS extractions (
  model TEXT NOT NULL, backend TEXT NOT NULL, extraction TEXT NOT NULL, corpus TEXT NOT NULL,
  corpus_hash TEXT NOT NULL, emotion TEXT NOT NULL, seconds ${REAL} NOT NULL, queries INTEGER NOT NULL,
  vector_path TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (model, backend, extraction, corpus, corpus_hash, emotion)
);
CREATE TABLE IF NOT EXISTS latency (
  model TEXT NOT NULL, backend TEXT NOT NULL, max_tokens INTEGER NOT NULL, rep INTEGER NOT NULL, steered INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL, generated_tokens INTEGER NOT NULL, prompt_ms ${REAL} NOT NULL, decode_ms ${REAL} NOT NULL,
  first_token_ms ${REAL} NOT NULL, run_id TEXT NOT NULL,
  PRIMARY KEY (model, backend, max_tokens, rep, steered)
);
CREATE TABLE IF NOT EXISTS resources (
  run_id TEXT NOT NULL, model TEXT NOT NULL, backend TEXT NOT NULL, load_seconds ${REAL} NOT NULL,
  peak_rss_bytes ${BIG} NOT NULL, heap_used_bytes ${BIG} NOT NULL, external_bytes ${BIG} NOT NULL,
  PRIMARY KEY (run_id, model, backend)
);
CREATE TABLE IF NOT EXISTS long_texts (
  long_id TEXT PRIMARY KEY,
  model TEXT NOT NULL, backend TEXT NOT NULL, extraction TEXT NOT NULL, corpus TEXT NOT NULL,
  condition TEXT NOT NULL, query_id TEXT NOT NULL, kind TEXT NOT NULL, max_tokens INTEGER NOT NULL, seed ${BIG} NOT NULL,
  setup_hash TEXT NOT NULL, emotion TEXT NOT NULL, alpha ${REAL} NOT NULL, segments TEXT NOT NULL, run_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS long_judgements (
  judgement_id ${SERIAL},
  long_id TEXT NOT NULL REFERENCES long_texts (long_id), judge_id TEXT NOT NULL, judges TEXT NOT NULL, created_at TEXT NOT NULL,
  UNIQUE (long_id, judge_id)
);
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, options TEXT NOT NULL, skipped TEXT NOT NULL, provenance TEXT
);
CREATE TABLE IF NOT EXISTS attempts (
  attempt_id ${SERIAL},
  cell_id TEXT NOT NULL, worker TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT
);
CREATE INDEX IF NOT EXISTS attempts_cell ON attempts (cell_id);
`;
}

const CELL_TEXT_COLUMNS = [
  "cell_id",
  "model",
  "backend",
  "extraction",
  "corpus",
  "condition",
  "query_id",
  "max_tokens",
  "seed",
  "setup_hash",
  "query_hash",
  "method",
  "weights",
  "query",
  "text",
  "generated_tokens",
  "finish_reason",
  "prompt_tokens",
  "prompt_ms",
  "decode_ms",
  "first_token_ms",
  "perplexity",
  "distinct2",
  "fidelity",
  "run_id",
  "created_at",
] as const;

const CELL_ORDER = "c.model, c.backend, c.extraction, c.corpus, c.condition, c.query_id, c.max_tokens, c.seed, c.setup_hash";

/** Refuses a database written in another format, naming what to do. */
export async function checkSchemaVersion(driver: SqlDriver, where: string): Promise<void> {
  const hasMeta =
    (
      await driver.all(
        driver.dialect === "postgres"
          ? "SELECT 1 FROM information_schema.tables WHERE table_name = 'meta' AND table_schema = current_schema()"
          : "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
      )
    ).length > 0;
  if (hasMeta) {
    const row = (await driver.all("SELECT value FROM meta WHERE key = 'schema'"))[0];
    if (row && Number(row.value) !== SCHEMA_VERSION) {
      throw new StoreFormatError(
        Number(row.value) === 1
          ? `Bench database ${where} has schema version 1: its cells are keyed without the model fingerprint, engine numerics, chat template, steering spec, sampling and query text, ` +
              `and their judge columns are inline, so they cannot be told apart from cells made another way and cannot be migrated honestly. ` +
              `Keep it for the old report (an older bench reads it), and run into a new --db path (or delete the file to start over).`
          : `Bench database ${where} has schema version ${row.value}, this bench reads and writes ${SCHEMA_VERSION}: pass another --db path.`,
      );
    }
  }
}

/** Creates the schema, or refuses a database written in another format, naming what to do. */
export async function prepareSchema(driver: SqlDriver, where: string): Promise<void> {
  await checkSchemaVersion(driver, where);
  if (driver.dialect === "postgres") {
    // Two workers may start at once: serialise schema creation.
    await driver.transaction(async (tx) => {
      await tx.run("SELECT pg_advisory_xact_lock(4242001)");
      for (const statement of schemaSql("postgres")
        .split(";")
        .map((s) => s.trim())
        .filter(Boolean))
        await tx.run(statement);
      await tx.run("INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO NOTHING", [String(SCHEMA_VERSION)]);
    });
  } else {
    for (const statement of schemaSql("sqlite")
      .split(";")
      .map((s) => s.trim())
      .filter(Boolean))
      await driver.run(statement);
    await driver.run("INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO NOTHING", [String(SCHEMA_VERSION)]);
  }
}

function longId(k: LongTextKey): string {
  const { model, backend, extraction, corpus, condition, queryId, kind, maxTokens, seed, setupHash } = k;
  return hashText(canonicalJson({ model, backend, extraction, corpus, condition, queryId, kind, maxTokens, seed, setupHash }), 32);
}

function finiteOrNull(x: number | null): number | null {
  return x !== null && Number.isFinite(x) ? x : null;
}

const numOrNull = (x: unknown) => (x === null || x === undefined ? null : Number(x));

function textFromRow(r: Record<string, unknown>): CellText {
  return {
    model: String(r.model),
    backend: String(r.backend),
    extraction: String(r.extraction),
    corpus: String(r.corpus),
    condition: String(r.condition),
    queryId: String(r.query_id),
    maxTokens: Number(r.max_tokens),
    seed: Number(r.seed),
    setupHash: String(r.setup_hash),
    queryHash: String(r.query_hash),
    method: r.method as CellText["method"],
    weights: JSON.parse(String(r.weights)) as Record<string, number>,
    query: String(r.query),
    text: String(r.text),
    generatedTokens: Number(r.generated_tokens),
    finishReason: String(r.finish_reason),
    promptTokens: Number(r.prompt_tokens),
    promptMs: Number(r.prompt_ms),
    decodeMs: Number(r.decode_ms),
    firstTokenMs: Number(r.first_token_ms),
    perplexity: numOrNull(r.perplexity),
    distinct2: Number(r.distinct2),
    fidelity: numOrNull(r.fidelity),
    runId: String(r.run_id),
    createdAt: String(r.created_at),
  };
}

function recordFromRow(r: Record<string, unknown>): CellRecord {
  return {
    ...textFromRow(r),
    judgeId: String(r.judge_id),
    judgeName: String(r.judge_name),
    judge: JSON.parse(String(r.judge)) as Record<string, number>,
    lexicon: JSON.parse(String(r.lexicon)) as Record<string, number>,
  };
}

function filterSql(filter: CellFilter): { where: string[]; values: unknown[] } {
  const where: string[] = [];
  const values: unknown[] = [];
  if (filter.model !== undefined) where.push("c.model = ?"), values.push(filter.model);
  if (filter.backend !== undefined) where.push("c.backend = ?"), values.push(filter.backend);
  if (filter.maxTokens !== undefined) where.push("c.max_tokens = ?"), values.push(filter.maxTokens);
  if (filter.seed !== undefined) where.push("c.seed = ?"), values.push(filter.seed);
  return { where, values };
}

/** The latest judgement of a cell, when no judge is named. */
const LATEST_JUDGEMENT = "j.judgement_id = (SELECT MAX(j2.judgement_id) FROM judgements j2 WHERE j2.cell_id = c.cell_id)";

/** {@link BenchStore} over any {@link SqlDriver}: the SQLite and PostgreSQL stores are this with their driver. */
export class SqlBenchStore implements BenchStore {
  readonly path: string;
  protected readonly driver: SqlDriver;
  #closed = false;

  constructor(path: string, driver: SqlDriver) {
    this.path = path;
    this.driver = driver;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async hasCell(key: CellKey): Promise<boolean> {
    return (await this.driver.all("SELECT 1 FROM cells WHERE cell_id = ?", [cellId(key)])).length > 0;
  }

  async getCell(key: CellKey, judgeId?: string): Promise<CellRecord | undefined> {
    const rows = await this.driver.all(
      `SELECT c.*, j.judge_id, j.judge_name, j.judge, j.lexicon FROM cells c JOIN judgements j ON j.cell_id = c.cell_id WHERE c.cell_id = ? AND ${judgeId === undefined ? LATEST_JUDGEMENT : "j.judge_id = ?"}`,
      judgeId === undefined ? [cellId(key)] : [cellId(key), judgeId],
    );
    return rows[0] && recordFromRow(rows[0]);
  }

  async putCell(cell: CellRecord, attempt?: { readonly worker: string }): Promise<void> {
    await this.driver.transaction(async (tx) => {
      await this.writeCell(tx, cell, attempt);
    });
  }

  /** The statements of {@link putCell}, inside a caller's transaction (the PostgreSQL worker adds its job's completion). */
  protected async writeCell(tx: SqlDriver, cell: CellRecord, attempt?: { readonly worker: string }): Promise<void> {
    const id = cellId(cell);
    const values = [
      id,
      cell.model,
      cell.backend,
      cell.extraction,
      cell.corpus,
      cell.condition,
      cell.queryId,
      cell.maxTokens,
      cell.seed,
      cell.setupHash,
      cell.queryHash,
      cell.method,
      JSON.stringify(cell.weights),
      cell.query,
      cell.text,
      cell.generatedTokens,
      cell.finishReason,
      cell.promptTokens,
      cell.promptMs,
      cell.decodeMs,
      cell.firstTokenMs,
      finiteOrNull(cell.perplexity),
      cell.distinct2,
      finiteOrNull(cell.fidelity),
      cell.runId,
      cell.createdAt,
    ];
    // A text is written once: a redelivered cell keeps the first text (and run id) stored.
    await tx.run(
      `INSERT INTO cells (${CELL_TEXT_COLUMNS.join(", ")}) VALUES (${CELL_TEXT_COLUMNS.map(() => "?").join(", ")}) ON CONFLICT (cell_id) DO NOTHING`,
      values,
    );
    await this.writeJudgement(tx, id, cell);
    if (attempt) {
      await tx.run(
        "UPDATE attempts SET finished_at = ? WHERE attempt_id = (SELECT MAX(attempt_id) FROM attempts WHERE cell_id = ? AND worker = ? AND finished_at IS NULL)",
        [new Date().toISOString(), id, attempt.worker],
      );
    }
  }

  private async writeJudgement(tx: SqlDriver, id: string, j: Judgement): Promise<void> {
    await tx.run(
      "INSERT INTO judgements (cell_id, judge_id, judge_name, judge, lexicon, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (cell_id, judge_id) DO UPDATE SET judge_name = excluded.judge_name, judge = excluded.judge, lexicon = excluded.lexicon, created_at = excluded.created_at",
      [id, j.judgeId, j.judgeName, JSON.stringify(j.judge), JSON.stringify(j.lexicon), new Date().toISOString()],
    );
  }

  async putJudgement(key: CellKey, judgement: Judgement): Promise<void> {
    const id = cellId(key);
    await this.driver.transaction(async (tx) => {
      if ((await tx.all("SELECT 1 FROM cells WHERE cell_id = ?", [id])).length === 0)
        throw new Error(`No stored cell ${key.model}/${key.backend} ${key.condition} ${key.queryId} to judge.`);
      await this.writeJudgement(tx, id, judgement);
    });
  }

  async cells(filter: CellFilter & { readonly judgeId?: string } = {}): Promise<CellRecord[]> {
    const { where, values } = filterSql(filter);
    if (filter.judgeId !== undefined) where.push("j.judge_id = ?"), values.push(filter.judgeId);
    else where.push(LATEST_JUDGEMENT);
    const rows = await this.driver.all(
      `SELECT c.*, j.judge_id, j.judge_name, j.judge, j.lexicon FROM cells c JOIN judgements j ON j.cell_id = c.cell_id WHERE ${where.join(" AND ")} ORDER BY ${CELL_ORDER}`,
      values,
    );
    return rows.map(recordFromRow);
  }

  async texts(filter: CellFilter = {}): Promise<CellText[]> {
    const { where, values } = filterSql(filter);
    const rows = await this.driver.all(
      `SELECT c.* FROM cells c ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY ${CELL_ORDER}`,
      values,
    );
    return rows.map(textFromRow);
  }

  async countCells(): Promise<number> {
    return Number((await this.driver.all("SELECT COUNT(*) AS n FROM cells"))[0]!.n);
  }

  async judges(): Promise<JudgeCount[]> {
    const rows = await this.driver.all(
      "SELECT judge_id, MAX(judge_name) AS judge_name, COUNT(*) AS n, MAX(created_at) AS latest FROM judgements GROUP BY judge_id ORDER BY latest, judge_id",
    );
    return rows.map((r) => ({ judgeId: String(r.judge_id), judgeName: String(r.judge_name), cells: Number(r.n) }));
  }

  async putSetup(r: SetupRecord): Promise<void> {
    await this.driver.run(
      "INSERT INTO setups (model, backend, setup_hash, setup) VALUES (?, ?, ?, ?) ON CONFLICT (model, backend, setup_hash) DO NOTHING",
      [r.model, r.backend, r.setupHash, canonicalJson(r.setup)],
    );
  }

  async setups(filter: { readonly model?: string; readonly backend?: string } = {}): Promise<SetupRecord[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.model !== undefined) where.push("model = ?"), values.push(filter.model);
    if (filter.backend !== undefined) where.push("backend = ?"), values.push(filter.backend);
    const rows = await this.driver.all(
      `SELECT * FROM setups ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY model, backend, setup_hash`,
      values,
    );
    return rows.map((r) => ({
      model: String(r.model),
      backend: String(r.backend),
      setupHash: String(r.setup_hash),
      setup: JSON.parse(String(r.setup)) as EngineSetup,
    }));
  }

  async putExtraction(r: ExtractionRecord): Promise<void> {
    await this.driver.run(
      "INSERT INTO extractions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, backend, extraction, corpus, corpus_hash, emotion) DO UPDATE SET seconds = excluded.seconds, queries = excluded.queries, vector_path = excluded.vector_path, created_at = excluded.created_at",
      [r.model, r.backend, r.extraction, r.corpus, r.corpusHash, r.emotion, r.seconds, r.queries, r.vectorPath, r.createdAt],
    );
  }

  async extractions(): Promise<ExtractionRecord[]> {
    const rows = await this.driver.all("SELECT * FROM extractions ORDER BY model, backend, extraction, corpus, emotion");
    return rows.map((r) => ({
      model: String(r.model),
      backend: String(r.backend),
      extraction: String(r.extraction),
      corpus: String(r.corpus),
      corpusHash: String(r.corpus_hash),
      emotion: String(r.emotion),
      seconds: Number(r.seconds),
      queries: Number(r.queries),
      vectorPath: String(r.vector_path),
      createdAt: String(r.created_at),
    }));
  }

  async hasLatency(model: string, backend: string, maxTokens: number, rep: number, steered: boolean): Promise<boolean> {
    return (
      (
        await this.driver.all("SELECT 1 FROM latency WHERE model = ? AND backend = ? AND max_tokens = ? AND rep = ? AND steered = ?", [
          model,
          backend,
          maxTokens,
          rep,
          steered ? 1 : 0,
        ])
      ).length > 0
    );
  }

  async putLatency(r: LatencyRecord): Promise<void> {
    await this.driver.run(
      "INSERT INTO latency VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, backend, max_tokens, rep, steered) DO UPDATE SET prompt_tokens = excluded.prompt_tokens, generated_tokens = excluded.generated_tokens, prompt_ms = excluded.prompt_ms, decode_ms = excluded.decode_ms, first_token_ms = excluded.first_token_ms, run_id = excluded.run_id",
      [
        r.model,
        r.backend,
        r.maxTokens,
        r.rep,
        r.steered ? 1 : 0,
        r.promptTokens,
        r.generatedTokens,
        r.promptMs,
        r.decodeMs,
        r.firstTokenMs,
        r.runId,
      ],
    );
  }

  async latency(): Promise<LatencyRecord[]> {
    const rows = await this.driver.all("SELECT * FROM latency ORDER BY model, backend, max_tokens, rep, steered");
    return rows.map((r) => ({
      model: String(r.model),
      backend: String(r.backend),
      maxTokens: Number(r.max_tokens),
      rep: Number(r.rep),
      steered: Number(r.steered) === 1,
      promptTokens: Number(r.prompt_tokens),
      generatedTokens: Number(r.generated_tokens),
      promptMs: Number(r.prompt_ms),
      decodeMs: Number(r.decode_ms),
      firstTokenMs: Number(r.first_token_ms),
      runId: String(r.run_id),
    }));
  }

  async putResources(r: ResourceRecord): Promise<void> {
    await this.driver.run(
      "INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, model, backend) DO UPDATE SET load_seconds = excluded.load_seconds, peak_rss_bytes = excluded.peak_rss_bytes, heap_used_bytes = excluded.heap_used_bytes, external_bytes = excluded.external_bytes",
      [r.runId, r.model, r.backend, r.loadSeconds, r.peakRssBytes, r.heapUsedBytes, r.externalBytes],
    );
  }

  async resources(): Promise<ResourceRecord[]> {
    const rows = await this.driver.all("SELECT * FROM resources ORDER BY run_id, model, backend");
    return rows.map((r) => ({
      runId: String(r.run_id),
      model: String(r.model),
      backend: String(r.backend),
      loadSeconds: Number(r.load_seconds),
      peakRssBytes: Number(r.peak_rss_bytes),
      heapUsedBytes: Number(r.heap_used_bytes),
      externalBytes: Number(r.external_bytes),
    }));
  }

  async hasLongText(k: LongTextKey): Promise<boolean> {
    return (await this.driver.all("SELECT 1 FROM long_texts WHERE long_id = ?", [longId(k)])).length > 0;
  }

  async putLongText(r: LongTextRecord): Promise<void> {
    const id = longId(r);
    await this.driver.transaction(async (tx) => {
      await tx.run("INSERT INTO long_texts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (long_id) DO NOTHING", [
        id,
        r.model,
        r.backend,
        r.extraction,
        r.corpus,
        r.condition,
        r.queryId,
        r.kind,
        r.maxTokens,
        r.seed,
        r.setupHash,
        r.emotion,
        r.alpha,
        JSON.stringify(r.segments.map(({ index, text }) => ({ index, text }))),
        r.runId,
      ]);
      await this.writeLongJudgement(
        tx,
        id,
        r.judgeId,
        r.segments.map((s) => s.judge),
      );
    });
  }

  private async writeLongJudgement(
    tx: SqlDriver,
    id: string,
    judgeId: string,
    judges: readonly Readonly<Record<string, number>>[],
  ): Promise<void> {
    await tx.run(
      "INSERT INTO long_judgements (long_id, judge_id, judges, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (long_id, judge_id) DO UPDATE SET judges = excluded.judges, created_at = excluded.created_at",
      [id, judgeId, JSON.stringify(judges), new Date().toISOString()],
    );
  }

  async putLongJudgement(key: LongTextKey, judgeId: string, judges: readonly Readonly<Record<string, number>>[]): Promise<void> {
    await this.driver.transaction((tx) => this.writeLongJudgement(tx, longId(key), judgeId, judges));
  }

  async longTexts(judgeId?: string): Promise<LongTextRecord[]> {
    const rows = await this.driver.all(
      `SELECT l.*, j.judge_id, j.judges FROM long_texts l JOIN long_judgements j ON j.long_id = l.long_id WHERE ${
        judgeId === undefined
          ? "j.judgement_id = (SELECT MAX(j2.judgement_id) FROM long_judgements j2 WHERE j2.long_id = l.long_id)"
          : "j.judge_id = ?"
      } ORDER BY l.model, l.backend, l.condition, l.query_id, l.kind`,
      judgeId === undefined ? [] : [judgeId],
    );
    return rows.map((r) => {
      const judges = JSON.parse(String(r.judges)) as Record<string, number>[];
      const texts = JSON.parse(String(r.segments)) as { index: number; text: string }[];
      return {
        model: String(r.model),
        backend: String(r.backend),
        extraction: String(r.extraction),
        corpus: String(r.corpus),
        condition: String(r.condition),
        queryId: String(r.query_id),
        kind: r.kind as LongTextKey["kind"],
        maxTokens: Number(r.max_tokens),
        seed: Number(r.seed),
        setupHash: String(r.setup_hash),
        emotion: String(r.emotion),
        alpha: Number(r.alpha),
        segments: texts.map((t, i): LongSegment => ({ ...t, judge: judges[i] ?? {} })),
        runId: String(r.run_id),
        judgeId: String(r.judge_id),
      };
    });
  }

  async startRun(r: Omit<RunRecord, "finishedAt">): Promise<void> {
    await this.driver.run(
      "INSERT INTO runs VALUES (?, ?, NULL, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET options = excluded.options, skipped = excluded.skipped, provenance = excluded.provenance",
      [
        r.runId,
        r.startedAt,
        JSON.stringify(r.options),
        JSON.stringify(r.skipped),
        r.provenance === null ? null : JSON.stringify(r.provenance),
      ],
    );
  }

  async finishRun(runId: string, finishedAt: string): Promise<void> {
    await this.driver.run("UPDATE runs SET finished_at = ? WHERE run_id = ?", [finishedAt, runId]);
  }

  async runs(): Promise<RunRecord[]> {
    const rows = await this.driver.all("SELECT * FROM runs ORDER BY started_at, run_id");
    return rows.map((r) => ({
      runId: String(r.run_id),
      startedAt: String(r.started_at),
      finishedAt: r.finished_at === null ? null : String(r.finished_at),
      options: JSON.parse(String(r.options)),
      skipped: JSON.parse(String(r.skipped)) as RunRecord["skipped"],
      provenance:
        r.provenance === null || r.provenance === undefined ? null : (JSON.parse(String(r.provenance)) as RunRecord["provenance"]),
    }));
  }

  async startAttempt(id: string, worker: string): Promise<void> {
    await this.driver.run("INSERT INTO attempts (cell_id, worker, started_at) VALUES (?, ?, ?)", [id, worker, new Date().toISOString()]);
  }

  async attempts(): Promise<AttemptRecord[]> {
    const rows = await this.driver.all("SELECT * FROM attempts ORDER BY attempt_id");
    return rows.map((r) => ({
      cellId: String(r.cell_id),
      worker: String(r.worker),
      startedAt: String(r.started_at),
      finishedAt: r.finished_at === null ? null : String(r.finished_at),
    }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.driver.close();
  }
}
