import type { TestProject } from "vitest/node";
// @ts-expect-error: a plain .mjs script without type declarations
import { buildLlamaTools } from "../scripts/build-llama-tools.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    llamaToolsDir: string;
  }
}

/**
 * Builds llama.cpp's own tools (llama-completion, llama-cvector-generator, llama-quantize) for the oracle tests
 * from the source bundled in node-llama-cpp; cached outside the repo, so only the first run builds.
 */
export default async function setup(project: TestProject): Promise<void> {
  const dir: string = await buildLlamaTools();
  project.provide("llamaToolsDir", dir);
}
