import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Where emosteer keeps downloads and derived files, outside any repository:
 * `$EMOSTEER_CACHE_DIR`, else `$XDG_CACHE_HOME/emosteer`, else `~/.cache/emosteer`.
 */
export function defaultCacheDir(): string {
  if (process.env.EMOSTEER_CACHE_DIR) return process.env.EMOSTEER_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), ".cache"), "emosteer");
}

/**
 * The one vector cache the CLI, the library (`cachedEmotionVectors`) and the bench share, so the
 * same model, engine, method and corpus are extracted once: `<cacheDir>/vectors`.
 */
export function defaultVectorCacheDir(cacheDir: string = defaultCacheDir()): string {
  return join(cacheDir, "vectors");
}
