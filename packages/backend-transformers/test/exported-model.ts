import { execFile } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DEFAULT_MODEL_ID, ensureModel } from "@emosteer/models";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * The steerable ONNX folder of the default model (SmolLM2-135M-Instruct), made by running the
 * exporter's script — this package never imports the exporter. The exporter caches complete
 * folders under `<cache>/onnx/<fingerprint>-<precision>` and reuses them.
 */
export async function exportedModelDir(precision: "fp32" | "q4" = "fp32", modelId = DEFAULT_MODEL_ID): Promise<string> {
  const { path } = await ensureModel(modelId);
  const { stdout } = await promisify(execFile)(
    join(repoRoot, "node_modules/.bin/tsx"),
    ["--conditions=@emosteer/source", join(repoRoot, "packages/onnx-export/scripts/export.ts"), path, precision],
    { cwd: repoRoot, maxBuffer: 16 * 2 ** 20 },
  );
  const match = /^(?:exported|reused) (.+) \([\d.]+ MiB/m.exec(stdout);
  if (!match) throw new Error(`The exporter's script did not say where it wrote the folder; it printed:\n${stdout}`);
  return match[1]!;
}
