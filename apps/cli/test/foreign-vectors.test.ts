// Control-vector files of other tools through the CLI: a file in repeng's layout written by gguf-py
// (what repeng's export_gguf calls), and llama-cvector-generator's own output. Neither carries
// emosteer metadata; `--vector EMOTION=FILE` imports them, checked against the model's shape, and
// applies them per layer as llama.cpp does. On the real default model, few tokens.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { loadVectorFile, readModelInfo } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without type declarations
import { buildLlamaTools } from "../../../packages/backend-llamacpp/scripts/build-llama-tools.mjs";
import { ensureGgufPy } from "../../../packages/core/test/helpers/gguf-py.js";
import { runScript, type ScriptRun } from "./run-script.js";

const run = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const CLI = join(repoRoot, "apps", "cli", "src", "main.ts");
const work = mkdtempSync(join(tmpdir(), "emosteer-cli-foreign-"));
const vectorCache = join(work, "vector-cache");
const PROMPT = "How do I bake bread?";
const GREEDY = ["--max-tokens", "16"];

/** What repeng's `ControlVector.export_gguf` does, with gguf-py from the llama.cpp source node-llama-cpp bundles. */
const REPENG_EXPORT = `
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import gguf
out, raw, hint = sys.argv[2], sys.argv[3], sys.argv[4]
count, hidden = int(sys.argv[5]), int(sys.argv[6])
directions = np.fromfile(raw, dtype=np.float32).reshape(count, hidden)
arch = "controlvector"
writer = gguf.GGUFWriter(out, arch)
writer.add_string(f"{arch}.model_hint", hint)
writer.add_uint32(f"{arch}.layer_count", count)
for layer in range(1, count + 1):
    writer.add_tensor(f"direction.{layer}", directions[layer - 1])
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()
`;

/** Writes `directions` (direction.1..N) as repeng would, and returns the file's path. */
async function repengFile(name: string, directions: readonly Float32Array[], hint = "llama"): Promise<string> {
  const raw = join(work, `${name}.f32`);
  const out = join(work, `${name}.gguf`);
  const flat = new Float32Array(directions.length * directions[0]!.length);
  directions.forEach((d, i) => {
    flat.set(d, i * d.length);
  });
  writeFileSync(raw, flat);
  await run("python3", ["-c", REPENG_EXPORT, ensureGgufPy(), out, raw, hint, String(directions.length), String(directions[0]!.length)]);
  return out;
}

function unit(values: Float32Array): Float32Array {
  const norm = Math.hypot(...values);
  return values.map((x) => x / norm);
}

/** Deterministic unit vectors (shape checks only). */
function pseudoRandomUnits(count: number, hidden: number): Float32Array[] {
  let state = 12345;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31 - 0.5;
  };
  return Array.from({ length: count }, () => unit(Float32Array.from({ length: hidden }, next)));
}

function succeeded(result: ScriptRun): ScriptRun {
  if (result.code !== 0) throw new Error(`emosteer exited with ${result.code}:\n${result.stderr}`);
  return result;
}

const emosteer = (...args: string[]) => runScript(CLI, args, repoRoot);
const lastLine = (text: string) => text.trimEnd().split("\n").at(-1)!;

let modelPath: string;
let tools: string;
let repengJoy: string;
/** The default model's chat prompt for PROMPT, as the backend formats it (for llama-completion). */
let chat: string;

beforeAll(async () => {
  modelPath = (await ensureModel("smollm2-135m-instruct")).path;
  tools = await buildLlamaTools();
  const backend = await createLlamaCppBackend({ modelPath, threads: 1 });
  chat = backend.formatChat([{ role: "user", content: PROMPT }]);
  await backend.dispose();
  // A direction per layer in repeng's form (unit norm): our joy vector from four contrast pairs.
  const out = join(work, "ours");
  succeeded(await emosteer("extract", "--emotions", "joy", "--max-queries", "4", "--out", out, "--vector-cache", vectorCache));
  const joy = await loadVectorFile(join(out, "joy.gguf"));
  repengJoy = await repengFile("joy-repeng", joy.directions.slice(1).map(unit));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("--vector EMOTION=FILE: other tools' control vectors (SmolLM2-135M-Instruct, llama.cpp)", () => {
  it("a repeng-layout file written by gguf-py is imported, checked and applied per layer, exactly as llama.cpp applies it", async () => {
    const imported = await loadVectorFile(repengJoy, { expectedModel: await readModelInfo(modelPath), emotion: "joy" });
    expect(imported.provenance).toMatchObject({ method: "imported", settings: { modelHint: "llama" } });

    const steered = succeeded(await emosteer("generate", "--vector", `joy=${repengJoy}`, "--steer", "joy=2", ...GREEDY, PROMPT));
    expect(steered.stderr).toContain(
      `note: ${repengJoy} has no emosteer metadata (a repeng or llama.cpp control vector for "llama"): imported as "joy", 29 of 29 steerable layers, hidden size 576`,
    );
    expect(steered.stderr).toMatch(/applied with per-layer injection, as repeng and llama\.cpp apply it .*--injection net-shift/);
    const text = steered.stdout.trimEnd();
    expect(text.length).toBeGreaterThan(0);

    const explicit = succeeded(
      await emosteer("generate", "--vector", `joy=${repengJoy}`, "--injection", "per-layer", "--steer", "joy=2", ...GREEDY, PROMPT),
    );
    const netShift = succeeded(
      await emosteer("generate", "--vector", `joy=${repengJoy}`, "--injection", "net-shift", "--steer", "joy=2", ...GREEDY, PROMPT),
    );
    const unsteered = succeeded(await emosteer("generate", "--vector", `joy=${repengJoy}`, "--steer", "joy=0", ...GREEDY, PROMPT));
    expect(explicit.stdout.trimEnd()).toBe(text);
    expect(netShift.stderr).toMatch(/applied with net-shift injection/);
    expect(netShift.stdout.trimEnd()).not.toBe(text);
    expect(unsteered.stdout.trimEnd()).not.toBe(text);

    // llama.cpp's own reading of the same file: llama-completion --control-vector-scaled FILE:2.
    const args = [
      "-m",
      modelPath,
      "-p",
      chat,
      "-n",
      "16",
      "--temp",
      "0",
      "-no-cnv",
      "--no-display-prompt",
      "--simple-io",
      "-c",
      "1024",
      "-t",
      "2",
      "-fa",
      "off",
      "--no-warmup",
    ];
    const { stdout: theirs } = await run(join(tools, "llama-completion"), [...args, "--control-vector-scaled", `${repengJoy}:2`], {
      maxBuffer: 16 << 20,
      timeout: 300_000,
    });
    expect(theirs.replace(/\s*\[end of text\]\s*$/, "").trimEnd()).toBe(text);
  });

  it("llama-cvector-generator's output is imported and applied per layer", async () => {
    const positives = [
      "I am absolutely thrilled, this is the happiest day of my life!",
      "What a wonderful surprise, I love it so much!",
      "Everything is going great and I feel fantastic.",
    ];
    const negatives = [
      "I am completely miserable, this is the worst day of my life.",
      "What a terrible surprise, I hate it so much.",
      "Everything is going wrong and I feel awful.",
    ];
    const positiveFile = join(work, "positive.txt");
    const negativeFile = join(work, "negative.txt");
    const cvector = join(work, "cvector-joy.gguf");
    writeFileSync(positiveFile, `${positives.join("\n")}\n`);
    writeFileSync(negativeFile, `${negatives.join("\n")}\n`);
    await run(
      join(tools, "llama-cvector-generator"),
      [
        "-m",
        modelPath,
        "--positive-file",
        positiveFile,
        "--negative-file",
        negativeFile,
        "-o",
        cvector,
        "--method",
        "mean",
        "-t",
        "2",
        "-c",
        "512",
        "-fa",
        "off",
      ],
      {
        maxBuffer: 64 << 20,
        timeout: 600_000,
      },
    );

    const steered = succeeded(await emosteer("generate", "--vector", `joy=${cvector}`, "--steer", "joy=1", ...GREEDY, PROMPT));
    expect(steered.stderr).toMatch(
      new RegExp(
        `note: ${cvector} has no emosteer metadata .*imported as "joy", 29 of 29 steerable layers, hidden size 576 as the model's; applied with per-layer injection`,
      ),
    );
    const unsteered = succeeded(await emosteer("generate", "--vector", `joy=${cvector}`, "--steer", "joy=0", ...GREEDY, PROMPT));
    expect(steered.stdout.trim().length).toBeGreaterThan(0);
    expect(steered.stdout).not.toBe(unsteered.stdout);
  });

  it("a foreign file without EMOTION= is refused with the option to use, exit 2", async () => {
    const result = await emosteer("generate", "--vector", repengJoy, "--steer", "joy=1", PROMPT);
    expect(result.code).toBe(2);
    expect(lastLine(result.stderr)).toBe(
      `emosteer: --vector ${repengJoy}: this control-vector file has no emosteer metadata (made by repeng or llama-cvector-generator?): name the emotion it encodes, e.g. --vector joy=${repengJoy}`,
    );
  });

  it("a foreign file for another model's width or depth is refused, exit 1", async () => {
    const wide = await repengFile("wide", pseudoRandomUnits(23, 896), "qwen2");
    const wideRun = await emosteer("generate", "--vector", `joy=${wide}`, "--steer", "joy=1", PROMPT);
    expect(wideRun.code).toBe(1);
    expect(lastLine(wideRun.stderr)).toBe(
      `emosteer: --vector ${wide}: direction.1 has 896 dims, model expects 576: extracted for another model?`,
    );

    const deep = await repengFile("deep", pseudoRandomUnits(31, 576));
    const deepRun = await emosteer("generate", "--vector", `joy=${deep}`, "--steer", "joy=1", PROMPT);
    expect(deepRun.code).toBe(1);
    expect(lastLine(deepRun.stderr)).toMatch(new RegExp(`^emosteer: --vector ${deep}: direction.30 has 31 layers, model has 30`));
    expect(wideRun.stdout + deepRun.stdout).toBe("");
  });

  it("mixing a foreign file with emosteer's vectors needs an explicit --injection, exit 2", async () => {
    const result = await emosteer("generate", "--vector", `joy=${repengJoy}`, "--steer", "joy=1,fear=-1", PROMPT);
    expect(result.code).toBe(2);
    expect(lastLine(result.stderr)).toMatch(
      /--steer mixes other tools' control vectors \(joy; applied per layer\) with emosteer's \(fear; net-shift\): choose one injection for all with --injection/,
    );
  });
});
