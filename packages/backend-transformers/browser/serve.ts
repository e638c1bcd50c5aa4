/**
 * Serves the browser demo on localhost.
 *   npx tsx --conditions=@emosteer/source packages/backend-transformers/browser/serve.ts <exported-model-dir> <emotion>=<vector.gguf>... [--port N]
 */
import { parseArgs } from "node:util";
import { startDemoServer } from "./server.js";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { port: { type: "string" } } });
const [modelDir, ...vectorArgs] = positionals;
const vectors = Object.fromEntries(vectorArgs.map((arg) => arg.split("=", 2) as [string, string]));
if (!modelDir || vectorArgs.length === 0 || Object.values(vectors).some((file) => !file)) {
  console.error("usage: serve.ts <exported-model-dir> <emotion>=<vector.gguf>... [--port N]");
  process.exit(2);
}
const server = await startDemoServer({ modelDir, vectors, port: Number(values.port ?? 8080) });
console.log(`demo at ${server.url} (Ctrl-C to stop)`);
