import { existsSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { EmosteerError } from "@emosteer/core";

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

/** `${EMOSTEER_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/emosteer}`, or `cacheDir` if given. */
export function resolveCacheDir(cacheDir?: string): string {
  if (cacheDir) return resolve(cacheDir);
  if (process.env.EMOSTEER_CACHE_DIR) return resolve(process.env.EMOSTEER_CACHE_DIR);
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "emosteer");
}

/** The repository root (for benchmarks/ and docs/). */
export const repoRoot = resolve(packageDir, "..", "..");
