import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { EmosteerError } from "@emosteer/core";
import { defaultCacheDir } from "@emosteer/core/node";

/** The labelled data folder (GoEmotions, ISEAR, NRC EmoLex) is missing or incomplete. */
export class MissingDataError extends EmosteerError {
  constructor(
    readonly path: string,
    readonly what: string,
  ) {
    super(
      `${what} not found at ${path}: point the \`dataDir\` option or EMOSTEER_DATA_DIR at a folder holding ` +
        `goemotions-ekman/, isear/ and nrc-emolex/ (see shared/data/README.md).`,
    );
  }
}

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The data folder: `dataDir` if given, else `EMOSTEER_DATA_DIR`, else `<repo>/../shared/data`
 * (the repo found from this package's location). Throws {@link MissingDataError} when it does not exist.
 */
export function resolveDataDir(dataDir?: string): string {
  const dir = resolve(dataDir ?? process.env.EMOSTEER_DATA_DIR ?? join(packageDir, "..", "..", "..", "shared", "data"));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new MissingDataError(dir, "Data folder");
  return dir;
}

/** A file inside the data folder; throws {@link MissingDataError} when absent. */
export function dataFile(dataDir: string, relative: string): string {
  const path = join(dataDir, relative);
  if (!existsSync(path)) throw new MissingDataError(path, `Data file ${relative}`);
  return path;
}

/** `cacheDir` if given, else core's default cache folder (`EMOSTEER_CACHE_DIR`, `XDG_CACHE_HOME/emosteer` or `~/.cache/emosteer`). */
export function resolveCacheDir(cacheDir?: string): string {
  return resolve(cacheDir ?? defaultCacheDir());
}

/** The repository root (for benchmarks/ and docs/). */
export const repoRoot = resolve(packageDir, "..", "..");
