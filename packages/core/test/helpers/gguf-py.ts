/**
 * gguf-py (llama.cpp's reference GGUF reader and dequantizers) as a test oracle, run with python3 +
 * numpy. The llama.cpp source comes from the git bundle node-llama-cpp ships, cloned once into
 * `<cache dir>/llama.cpp-src/<commit>`; numpy is pip-installed when missing.
 */
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultCacheDir } from "../../src/node/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "../../../..");
const BUNDLE = join(repoRoot, "packages/backend-llamacpp/node_modules/node-llama-cpp/llama/gitRelease.bundle");
const ORACLE = join(here, "gguf_oracle.py");

let ggufPyDir: string | undefined;

/** Directory holding gguf-py's `gguf` package, cloning the bundle and installing numpy if needed. */
export function ensureGgufPy(): string {
  if (ggufPyDir) return ggufPyDir;
  if (!existsSync(BUNDLE)) throw new Error(`llama.cpp source bundle not found at ${BUNDLE}: run pnpm install (node-llama-cpp ships it).`);
  const commit = execFileSync("git", ["bundle", "list-heads", BUNDLE], { encoding: "utf8" }).split(/\s+/)[0]!;
  const target = join(defaultCacheDir(), "llama.cpp-src", commit);
  if (!existsSync(join(target, "gguf-py", "gguf", "quants.py"))) {
    mkdirSync(dirname(target), { recursive: true });
    const temp = mkdtempSync(`${target}.partial-`);
    try {
      execFileSync("git", ["clone", "--quiet", "-c", "advice.detachedHead=false", BUNDLE, temp], { stdio: "pipe" });
      rmSync(target, { recursive: true, force: true });
      renameSync(temp, target);
    } finally {
      rmSync(temp, { recursive: true, force: true });
    }
  }
  ensureNumpy();
  ggufPyDir = join(target, "gguf-py");
  return ggufPyDir;
}

function ensureNumpy(): void {
  try {
    execFileSync("python3", ["-c", "import numpy"], { stdio: "pipe" });
  } catch {
    try {
      execFileSync("python3", ["-m", "pip", "install", "--quiet", "numpy"], { stdio: "pipe" });
    } catch (error) {
      throw new Error(`The gguf-py oracle needs python3 with numpy, and "python3 -m pip install numpy" failed: ${String(error)}`);
    }
  }
}

/**
 * Runs one oracle request (see gguf_oracle.py) and returns its JSON answer. With `cacheKey` (e.g.
 * the model file's sha256), the answer is kept beside the llama.cpp source and reused: gguf-py
 * takes most of a minute to parse a 262k-token vocabulary.
 */
export async function runGgufPy<T>(request: Record<string, unknown>, options: { cacheKey?: string } = {}): Promise<T> {
  const dir = ensureGgufPy();
  let cachePath: string | undefined;
  if (options.cacheKey) {
    const requestHash = createHash("sha256")
      .update(readFileSync(ORACLE))
      .update(JSON.stringify(request))
      .update(options.cacheKey)
      .digest("hex")
      .slice(0, 24);
    cachePath = join(dir, "..", "..", "oracle-cache", `${requestHash}.json`);
    if (existsSync(cachePath)) return JSON.parse(readFileSync(cachePath, "utf8")) as T;
  }
  const { stdout } = await promisify(execFile)("python3", [ORACLE, dir, JSON.stringify(request)], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  if (cachePath) {
    mkdirSync(dirname(cachePath), { recursive: true });
    writeFileSync(`${cachePath}.tmp`, stdout);
    renameSync(`${cachePath}.tmp`, cachePath);
  }
  return JSON.parse(stdout) as T;
}
