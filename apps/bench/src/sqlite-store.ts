import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { checkSchemaVersion, prepareSchema, SqlBenchStore, type SqlDriver } from "./sql-store.js";

/** better-sqlite3 behind the async {@link SqlDriver} calls (one connection; the bench writes sequentially). */
class SqliteDriver implements SqlDriver {
  readonly dialect = "sqlite" as const;
  readonly #db: Database.Database;
  #inTransaction = false;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  async all(sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
    const statement = this.#db.prepare(sql);
    return statement.reader ? (statement.all(...params) as Record<string, unknown>[]) : (statement.run(...params), []);
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<void> {
    this.#db.prepare(sql).run(...params);
  }

  async transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    if (this.#inTransaction) return fn(this);
    this.#db.exec("BEGIN IMMEDIATE");
    this.#inTransaction = true;
    try {
      const result = await fn(this);
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    } finally {
      this.#inTransaction = false;
    }
  }

  async close(): Promise<void> {
    if (!this.#db.readonly) this.#db.pragma("wal_checkpoint(TRUNCATE)");
    this.#db.close();
  }
}

/**
 * The embedded default: one SQLite file in WAL mode with `synchronous = FULL`, so every cell is
 * on disk the moment `putCell` returns and a run killed at any point resumes without losing or
 * duplicating a cell.
 */
export class SqliteBenchStore extends SqlBenchStore {
  /** Opens (creating when missing) the database at `path`. `readonly` opens an existing file without writing. */
  static async open(path: string, options: { readonly readonly?: boolean } = {}): Promise<SqliteBenchStore> {
    if (!options.readonly) mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    // Before anything else: another process (a reader polling progress, a second bench) may hold a lock briefly.
    db.pragma("busy_timeout = 10000");
    const driver = new SqliteDriver(db);
    try {
      if (options.readonly) await checkSchemaVersion(driver, path);
      else {
        db.pragma("journal_mode = WAL");
        db.pragma("synchronous = FULL");
        await prepareSchema(driver, path);
      }
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteBenchStore(path, driver);
  }
}
