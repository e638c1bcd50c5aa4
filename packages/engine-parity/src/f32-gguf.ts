import { execFile } from "node:child_process";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { defaultCacheDir, fileFingerprint } from "@emosteer/core/node";

const run = promisify(execFile);

/**
 * An F32 copy of a GGUF's weights, made by llama.cpp's own `llama-quantize --allow-requantize …
 * F32` (every tensor dequantized by llama.cpp itself). llama.cpp multiplies F32 weights with F32
 * activations, so on this file its logits show the graph without its int8 activation rounding.
 * Cached under `<cache>/gguf-f32/<fingerprint>.gguf` (never in the repo), written atomically.
 */
export async function f32Gguf(ggufPath: string, llamaToolsDir: string): Promise<string> {
  const dir = join(defaultCacheDir(), "gguf-f32");
  const out = join(dir, `${await fileFingerprint(ggufPath)}.gguf`);
  if (
    await stat(out).then(
      (s) => s.size > 0,
      () => false,
    )
  )
    return out;
  await mkdir(dir, { recursive: true });
  // llama-quantize needs the .gguf suffix on the output; the temp name keeps it.
  const temp = join(dir, `${process.pid}.${Date.now()}.tmp.gguf`);
  try {
    await run(join(llamaToolsDir, "llama-quantize"), ["--allow-requantize", ggufPath, temp, "F32"], { maxBuffer: 64 * 1024 * 1024 });
    await rename(temp, out);
  } catch (error) {
    await rm(temp, { force: true });
    throw new Error(`llama-quantize could not write an F32 copy of ${ggufPath}: ${(error as Error).message}`);
  }
  return out;
}
