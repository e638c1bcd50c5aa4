import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

/** Next-token positions the logit parity checks compare (≥ 500 of real text). */
export const PARITY_POSITIONS = 520;

/**
 * Real text for logit parity: the first 12 items of the contrast corpus, each neutral response
 * followed by its first emotional one. The same text for every engine and model.
 */
export async function parityText(): Promise<string> {
  const corpusPath = createRequire(import.meta.url).resolve("@emosteer/core/prompts/contrast-corpus.json");
  const corpus = JSON.parse(await readFile(corpusPath, "utf8")) as { items: { neutral: string; emotional: Record<string, string> }[] };
  return corpus.items
    .slice(0, 12)
    .map((item) => `${item.neutral}\n${Object.values(item.emotional)[0] ?? ""}`)
    .join("\n\n");
}
