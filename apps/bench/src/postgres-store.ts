import pg from "pg";
import { prepareSchema, SqlBenchStore, type SqlDriver } from "./sql-store.js";
import type { CellRecord } from "./store.js";

/** node-postgres behind the {@link SqlDriver} calls: `?` placeholders numbered `$1…`, transactions on one pooled client. */
class PostgresDriver implements SqlDriver {
  readonly dialect = "postgres" as const;
  readonly #client: pg.Pool | pg.PoolClient;

  constructor(client: pg.Pool | pg.PoolClient) {
    this.#client = client;
  }

  async all(sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
    return (await this.#client.query(numbered(sql), [...params])).rows as Record<string, unknown>[];
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<void> {
    await this.#client.query(numbered(sql), [...params]);
  }

  async transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    if (!(this.#client instanceof pg.Pool)) return fn(this);
    const client = await this.#client.connect();
    try {
      await client.query("BEGIN");
      const result = await fn(new PostgresDriver(client));
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /** Raw SQL on this connection (a transaction's client when inside one): what pg-boss's `db` option calls. */
  async query(text: string, values: readonly unknown[] = []): Promise<{ rows: unknown[] }> {
    return this.#client.query(text, [...values]);
  }

  async close(): Promise<void> {
    if (this.#client instanceof pg.Pool) await this.#client.end();
  }
}

/** `?` placeholders (outside string literals) as PostgreSQL's `$1, $2, …`. */
function numbered(sql: string): string {
  let n = 0;
  let quoted = false;
  let out = "";
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    out += ch === "?" && !quoted ? `$${++n}` : ch;
  }
  return out;
}

/** The URL without its password, for messages and the report. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ":***@");
  }
}

/**
 * Results in PostgreSQL, for many machines writing one database: the same tables and statements
 * as the SQLite store (one {@link SqlBenchStore}), plus the worker's transaction that stores a
 * cell and completes its queue job together.
 */
export class PostgresBenchStore extends SqlBenchStore {
  readonly url: string;
  readonly pool: pg.Pool;

  private constructor(url: string, pool: pg.Pool) {
    super(redactUrl(url), new PostgresDriver(pool));
    this.url = url;
    this.pool = pool;
  }

  static async open(url: string): Promise<PostgresBenchStore> {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    try {
      await pool.query("SELECT 1");
    } catch (error) {
      await pool.end().catch(() => {});
      throw new Error(
        `Cannot connect to PostgreSQL at ${redactUrl(url)}: ${(error as Error).message}. Start the server (Debian: pg_ctlcluster 15 main start) and check the URL.`,
      );
    }
    const store = new PostgresBenchStore(url, pool);
    await prepareSchema(store.driver, store.path);
    return store;
  }

  /**
   * Stores a cell and, in the same transaction, runs `alsoInTransaction` with a connection for
   * pg-boss (its `db` option), so the cell and its job's completion commit together or not at all.
   */
  async putCellWith(
    cell: CellRecord,
    attempt: { readonly worker: string },
    alsoInTransaction: (db: { executeSql(text: string, values: unknown[]): Promise<{ rows: unknown[] }> }) => Promise<void>,
  ): Promise<void> {
    await this.driver.transaction(async (tx) => {
      await this.writeCell(tx, cell, attempt);
      await alsoInTransaction({ executeSql: (text, values) => (tx as PostgresDriver).query(text, values) });
    });
  }
}
