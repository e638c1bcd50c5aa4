import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const CACHE_VERSION = 1;

/**
 * Evaluated points of a calibration search in one JSON file, so that a stopped search resumes
 * where it was. Keys are hashes of everything the value depends on (model fingerprint, emotion,
 * vector, candidate, the searched queries and the judge: see `calibrate`). Written atomically
 * (temporary file + rename) after every new point, so a crash never leaves half a file.
 */
export class PointCache {
  readonly path: string | null;
  readonly #entries: Map<string, unknown>;

  private constructor(path: string | null, entries: Map<string, unknown>) {
    this.path = path;
    this.#entries = entries;
  }

  /** A cache backed by `path` (created on first write); a missing file is an empty cache. */
  static open(path: string): PointCache {
    let raw: string;
    try {
      raw = readFileSync(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return new PointCache(path, new Map());
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new Error(`${path}: the calibration cache is not valid JSON; delete it to start the search afresh.`);
    }
    const o = parsed as { version?: unknown; points?: unknown };
    if (o?.version !== CACHE_VERSION || typeof o.points !== "object" || o.points === null) {
      throw new Error(`${path}: not a version-${CACHE_VERSION} calibration cache; delete it to start the search afresh.`);
    }
    return new PointCache(path, new Map(Object.entries(o.points as Record<string, unknown>)));
  }

  /** A cache that lives in memory only. */
  static inMemory(): PointCache {
    return new PointCache(null, new Map());
  }

  /** The hash key of `parts` (any JSON-serialisable description). */
  static key(parts: unknown): string {
    return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 32);
  }

  get size(): number {
    return this.#entries.size;
  }

  get<T>(key: string): T | undefined {
    return this.#entries.get(key) as T | undefined;
  }

  set(key: string, value: unknown): void {
    this.#entries.set(key, value);
    if (!this.path) return;
    mkdirSync(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify({ version: CACHE_VERSION, points: Object.fromEntries(this.#entries) })}\n`);
    renameSync(temporary, this.path);
  }
}
