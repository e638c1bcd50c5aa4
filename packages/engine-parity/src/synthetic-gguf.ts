import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { defaultCacheDir } from "@emosteer/core/node";
// The gguf-py of the llama.cpp source node-llama-cpp bundles, unpacked once into the cache (the
// same helper core's gguf-py oracle tests use).
import { ensureGgufPy } from "../../core/test/helpers/gguf-py.ts";
import type { SyntheticFamily } from "./synthetic-families.js";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "..", "python", "synthetic_gguf.py");

/**
 * The synthetic F32 GGUF of one family (see synthetic-families.ts), written by
 * python/synthetic_gguf.py on first use into `<cache>/synthetic-gguf/<key>.gguf`, where the key
 * hashes the script, the settings and the llama.cpp source it reads vocabularies from. Never in
 * the repo; the script writes a `.partial` file and renames it, so a file that exists is whole.
 */
export async function syntheticGguf(family: SyntheticFamily): Promise<string> {
  const ggufPy = ensureGgufPy();
  const llamaSource = dirname(ggufPy);
  const settings = JSON.stringify(family);
  const key = createHash("sha256")
    .update(await readFile(SCRIPT))
    .update(settings)
    .update(llamaSource)
    .digest("hex")
    .slice(0, 20);
  const dir = join(defaultCacheDir(), "synthetic-gguf");
  const slug = family.family.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  const out = join(dir, `${slug}-${key}.gguf`);
  const exists = await stat(out).then(
    (s) => s.size > 0,
    () => false,
  );
  if (exists) return out;
  await mkdir(dir, { recursive: true });
  try {
    await promisify(execFile)("python3", [SCRIPT, ggufPy, join(llamaSource, "models"), settings, out], { maxBuffer: 16 << 20 });
  } catch (error) {
    throw new Error(`python/synthetic_gguf.py could not write the ${family.family} model: ${(error as Error).message}`);
  }
  return out;
}
