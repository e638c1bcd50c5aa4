import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const folder = new URL("../playground/", import.meta.url);

/** The playground page (playground/index.html); its script is `/playground.js`. */
export const PLAYGROUND_HTML = readFileSync(new URL("index.html", folder), "utf8");

/** Bundles playground/playground.ts for browsers (once per server start; it takes a few tens of ms). */
export async function bundlePlayground(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL("playground.ts", folder))],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    logLevel: "error",
  });
  return result.outputFiles[0]!.text;
}
