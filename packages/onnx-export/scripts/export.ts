/**
 * Exports a GGUF model to a steerable ONNX folder.
 *   npx tsx --conditions=@emosteer/source packages/onnx-export/scripts/export.ts <model.gguf> [fp32|q4] [--out DIR] [--force]
 */
import { parseArgs } from "node:util";
import { exportGgufToOnnx, PRECISIONS, type Precision } from "../src/index.js";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: "string" }, force: { type: "boolean" } } });
const [ggufPath, precision = "fp32"] = positionals;
if (!ggufPath || !PRECISIONS.includes(precision as Precision)) {
  console.error(`usage: export.ts <model.gguf> [${PRECISIONS.join("|")}] [--out DIR] [--force]`);
  process.exit(2);
}
const started = performance.now();
let lastLine = "";
const result = await exportGgufToOnnx({
  ggufPath,
  precision: precision as Precision,
  ...(values.out ? { outDir: values.out } : {}),
  force: values.force ?? false,
  onProgress: ({ stage, done, total }) => {
    const line = `${stage} ${stage === "fingerprint" ? Math.round((100 * done) / total) + "%" : `${done}/${total}`}`;
    if (line !== lastLine) process.stderr.write(`\r${line.padEnd(30)}`);
    lastLine = line;
  },
});
process.stderr.write("\n");
console.log(
  `${result.cached ? "reused" : "exported"} ${result.modelDir} (${(result.bytes / 2 ** 20).toFixed(1)} MiB, ${((performance.now() - started) / 1000).toFixed(1)} s)`,
);
