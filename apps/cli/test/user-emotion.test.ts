// README.md's "Your own emotions" example, run: its emotion file, extracted by `emosteer extract
// --emotion-file` on the real default model (three hand-written pairs, teacher-forced) and steered
// with by `emosteer generate --emotion-file`, from the cache the extraction filled.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseUserEmotion } from "@emosteer/core";
import { loadVectorFile, readModelInfo } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { afterAll, describe, expect, it } from "vitest";
import { runScript } from "./run-script.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const CLI = join(repoRoot, "apps", "cli", "src", "main.ts");
const work = mkdtempSync(join(tmpdir(), "emosteer-cli-awe-"));
const vectorCache = join(work, "vector-cache");
const emosteer = (...args: string[]) => runScript(CLI, args, repoRoot);
const aweFile = join(work, "awe.json");
const out = join(work, "vectors");

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The README's example emotion file: the one JSON block of its "Your own emotions" section. */
function readmeEmotionFile(): string {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### Your own emotions"));
  const json = /```json\n([\s\S]*?)```/.exec(section);
  if (!json) throw new Error('README.md\'s "Your own emotions" section has no ```json block');
  return json[1]!;
}

describe("README's own-emotion example (awe.json) on SmolLM2-135M-Instruct, llama.cpp", () => {
  it("extract --emotion-file awe.json --out vectors: a vector for awe from the file's examples", async () => {
    const definition = parseUserEmotion(readmeEmotionFile(), "README.md awe.json");
    expect(definition.name).toBe("awe");
    writeFileSync(aweFile, readmeEmotionFile());

    const run = await emosteer("extract", "--emotion-file", aweFile, "--out", out, "--vector-cache", vectorCache);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(
        `^awe\\s+${definition.examples!.length} pairs on llama\\.cpp, largest norm [\\d.]+ at layer \\d+ → ${out}/awe\\.gguf$`,
        "m",
      ),
    );
    const model = await readModelInfo((await ensureModel("smollm2-135m-instruct")).path);
    const awe = await loadVectorFile(join(out, "awe.gguf"), { expectedModel: model });
    expect(awe.emotion).toBe("awe");
    expect(awe.provenance).toMatchObject({ method: "mean-diff", samples: definition.examples!.length, backend: "llama.cpp" });
    const norms = awe.norms();
    expect(norms[0]).toBe(0);
    for (const norm of norms.slice(1)) expect(norm).toBeGreaterThan(0);
  });

  it("generate --emotion-file awe.json --steer awe=1.5: steered from the cached vector, unlike awe=0", async () => {
    const args = ["--emotion-file", aweFile, "--vector-cache", vectorCache, "--max-tokens", "16", "Tell me about the night sky."];
    const steered = await emosteer("generate", "--steer", "awe=1.5", ...args);
    const unsteered = await emosteer("generate", "--steer", "awe=0", ...args);
    expect(steered.code, steered.stderr).toBe(0);
    expect(unsteered.code, unsteered.stderr).toBe(0);
    expect(steered.stderr).not.toMatch(/extracting/); // the vector extract cached
    expect(steered.stdout.trim().length).toBeGreaterThan(0);
    expect(steered.stdout).not.toBe(unsteered.stdout);
  });

  it("an emotion no file defines, and a malformed emotion file, are refused naming the problem", async () => {
    const unknown = await emosteer("generate", "--steer", "awe=1", "Hi");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trimEnd()).toMatch(
      /^emosteer: --steer: unknown emotion "awe"; choose from joy, anger, disgust, fear, sadness, or define it with --emotion-file FILE/,
    );

    const badFile = join(work, "bad.json");
    writeFileSync(badFile, JSON.stringify({ name: "awe", conditioningPrompt: "", examples: [] }));
    const bad = await emosteer("extract", "--emotion-file", badFile);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trimEnd()).toBe(
      `emosteer: ${badFile}: conditioningPrompt: must be a non-empty string (a system prompt such as "You are a helpful assistant who feels deep awe."), got an empty string.`,
    );

    const missing = await emosteer("demo", "--emotion-file", "nope.json");
    expect(missing.code).toBe(2);
    expect(missing.stderr.trimEnd()).toBe(`emosteer: --emotion-file: no such file "nope.json"`);
  });
});
