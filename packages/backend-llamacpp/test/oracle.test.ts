// Oracle checks against llama.cpp's own tools, built from the same bundled source by the
// globalSetup: (a) a control-vector file loaded by llama-completion steers exactly like our
// backend, (b) llama-cvector-generator --method mean and our capture agree on the directions.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { cosineSimilarity, openGguf, type EmotionVector, type SteeringBackend } from "@emosteer/core";
import { fileByteSource, saveVectorFile } from "@emosteer/core/node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { joyVector, openSmolLm, smolLmPath, testVector } from "./helpers.js";

const run = promisify(execFile);
/**
 * Each oracle runs llama.cpp's tools (a model load and a generation or an extraction each) on top
 * of our own runs: seconds on a quiet machine, minutes on two shared cores under load (at load
 * ≈ 12–16 both oracles timed out at the project's 120 s test timeout, and a 32-token
 * llama-completion run at the tools' former 300 s limit). These limits only catch a hung tool;
 * they are not speed checks. OMP_WAIT_POLICY=PASSIVE stops the tools' OpenMP threads from
 * spinning at barriers, which on shared cores is what makes them slow (ENGINES.md); it changes no
 * value computed.
 */
const TOOL_TIMEOUT_MS = 900_000;
const ORACLE_TIMEOUT_MS = 2 * TOOL_TIMEOUT_MS + 300_000;
const TOOL_ENV = { ...process.env, OMP_WAIT_POLICY: "PASSIVE" };
let backend: SteeringBackend;
let joy: EmotionVector;
let work: string;
let modelPath: string;
let tools: string;

beforeAll(async () => {
  tools = inject("llamaToolsDir");
  modelPath = await smolLmPath();
  backend = await openSmolLm();
  joy = await joyVector(backend);
  work = await mkdtemp(path.join(tmpdir(), "emosteer-oracle-"));
});

afterAll(async () => {
  await backend?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

/** GGUF metadata of the model that decides how llama.cpp's tools tokenize. */
async function bosPolicy(): Promise<{ addBos: boolean; bos: number }> {
  const source = await fileByteSource(modelPath);
  try {
    const gguf = await openGguf(source);
    return { addBos: gguf.get("tokenizer.ggml.add_bos_token") === true, bos: Number(gguf.get("tokenizer.ggml.bos_token_id")) };
  } finally {
    await source.dispose();
  }
}

async function llamaCompletion(prompt: string, extra: string[]): Promise<string> {
  const args = [
    "-m",
    modelPath,
    "-p",
    prompt,
    "-n",
    "32",
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
    ...extra,
  ];
  const { stdout } = await run(path.join(tools, "llama-completion"), args, {
    maxBuffer: 16 << 20,
    timeout: TOOL_TIMEOUT_MS,
    env: TOOL_ENV,
  });
  // llama-completion ends its output with " [end of text]" (at end-of-generation) and newlines.
  return stdout.replace(/\s*\[end of text\]\s*$/, "").trimEnd();
}

describe("llama.cpp oracle", () => {
  it(
    "(a) llama-completion --control-vector-scaled FILE:α gives our greedy text, steered and unsteered",
    async () => {
      const { addBos } = await bosPolicy();
      expect(addBos).toBe(false); // else our text prompt (no BOS) and llama-completion's would differ
      const prompt = backend.formatChat([{ role: "user", content: "Tell me about your day in two sentences." }]);
      // llama.cpp adds every direction.k as it is (our "per-layer" injection).
      // Unit-length directions in the file (α = 2 gives coherent joyful text on SmolLM2); the same
      // float32 values go into our steering, so both sides add bit-identical vectors.
      const unit = joy.directions.map((d) => {
        const norm = Math.hypot(...d);
        return norm === 0 ? new Float32Array(d.length) : d.map((x) => x / norm);
      });
      const unitJoy = testVector(backend.model, "joy", unit);
      const file = path.join(work, "joy.gguf");
      await saveVectorFile(file, unitJoy); // core's EV file = a llama.cpp control-vector GGUF
      const alpha = 2;
      const ours = await backend.generate(prompt, {
        maxTokens: 32,
        steering: { terms: [{ vector: unitJoy, alpha }], injection: "per-layer" },
      });
      const oursPlain = await backend.generate(prompt, { maxTokens: 32 });
      const theirs = await llamaCompletion(prompt, ["--control-vector-scaled", `${file}:${alpha}`]);
      const theirsPlain = await llamaCompletion(prompt, []);
      expect(ours.text).not.toBe(oursPlain.text);
      expect(theirsPlain).toBe(oursPlain.text.trimEnd());
      expect(theirs).toBe(ours.text.trimEnd());
      console.log(`llama-completion with the control vector (α = ${alpha}): ${JSON.stringify(theirs)}`);
    },
    ORACLE_TIMEOUT_MS,
  );

  it(
    "(b) our capture mirrors llama-cvector-generator --method mean: per-layer cosine ≥ 0.999",
    async () => {
      const positives = [
        "I am absolutely thrilled, this is the happiest day of my life!",
        "What a wonderful surprise, I love it so much!",
        "Everything is going great and I feel fantastic.",
        "We won the match and everyone is cheering with joy!",
      ];
      const negatives = [
        "I am completely miserable, this is the worst day of my life.",
        "What a terrible surprise, I hate it so much.",
        "Everything is going wrong and I feel awful.",
        "We lost the match and everyone is crying in despair.",
      ];
      const positiveFile = path.join(work, "positive.txt");
      const negativeFile = path.join(work, "negative.txt");
      const out = path.join(work, "cvector.gguf");
      await writeFile(positiveFile, positives.join("\n") + "\n");
      await writeFile(negativeFile, negatives.join("\n") + "\n");
      await run(
        path.join(tools, "llama-cvector-generator"),
        [
          "-m",
          modelPath,
          "--positive-file",
          positiveFile,
          "--negative-file",
          negativeFile,
          "-o",
          out,
          "--method",
          "mean",
          "-t",
          "2",
          "-c",
          "512",
          "-fa",
          "off",
        ],
        { maxBuffer: 64 << 20, timeout: TOOL_TIMEOUT_MS, env: TOOL_ENV },
      );

      // The mirror: same tokenization (BOS per the vocab, special tokens parsed, the shorter prompt
      // padded with the last token of " "), full-sequence residuals of layers 0..L-2, diff rows
      // pos - neg, rows dropped when no element exceeds 1e-6 (the tool's test), mean, unit norm.
      // The tool names the direction from block il's output "direction.<il+1>".
      const { layerCount, hiddenSize } = backend.model;
      const { addBos, bos } = await bosPolicy();
      const pad = (await backend.tokenize(" ")).at(-1)!;
      const layers = Array.from({ length: layerCount - 1 }, (_, i) => i);
      const sums = layers.map(() => new Float64Array(hiddenSize));
      const counts = layers.map(() => 0);
      for (let k = 0; k < positives.length; k++) {
        const tokenize = async (text: string) => [...(addBos ? [bos] : []), ...(await backend.tokenize(text))];
        const pos = await tokenize(positives[k]!);
        const neg = await tokenize(negatives[k]!);
        const n = Math.max(pos.length, neg.length);
        while (pos.length < n) pos.push(pad);
        while (neg.length < n) neg.push(pad);
        const [a, b] = await Promise.all(
          [pos, neg].map((tokens) => backend.captureResiduals({ tokens, spanStart: 0, spanEnd: n, layers })),
        );
        layers.forEach((layer, li) => {
          for (let row = 0; row < n; row++) {
            const diff = new Float64Array(hiddenSize);
            let kept = false;
            for (let i = 0; i < hiddenSize; i++) {
              diff[i] = a!.data[li]![row * hiddenSize + i]! - b!.data[li]![row * hiddenSize + i]!;
              if (diff[i]! > 1e-6) kept = true;
            }
            if (!kept) continue;
            counts[li]!++;
            for (let i = 0; i < hiddenSize; i++) sums[li]![i]! += diff[i]!;
          }
        });
      }

      const source = await fileByteSource(out);
      try {
        const gguf = await openGguf(source);
        expect(gguf.get("controlvector.layer_count")).toBe(layerCount - 1);
        const cosines: number[] = [];
        for (const layer of layers) {
          const theirs = await gguf.readTensor(`direction.${layer + 1}`);
          const ours = sums[layer]!.map((x) => x / counts[layer]!);
          cosines.push(cosineSimilarity(ours, theirs));
        }
        console.log(
          `cvector-generator vs ours, per-layer cosine: min ${Math.min(...cosines).toFixed(6)}, mean ${(cosines.reduce((s, c) => s + c, 0) / cosines.length).toFixed(6)}`,
        );
        for (const c of cosines) expect(c).toBeGreaterThanOrEqual(0.999);
      } finally {
        await source.dispose();
      }
    },
    ORACLE_TIMEOUT_MS,
  );
});
