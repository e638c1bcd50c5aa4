import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AbortedError,
  DisposedError,
  EmotionVector,
  NotSteerableModelError,
  type SteeringBackend,
  type SteeringSpec,
} from "@emosteer/core";
import { DEFAULT_MODEL_ID, ensureModel } from "@emosteer/models";
import { createTransformersBackend } from "../src/index.js";
import { exportedModelDir } from "./exported-model.js";
import { joyVector } from "./joy-vector.js";
import { writeUnsteerableModel } from "./unsteerable-model.js";

let modelDir: string;
let backend: SteeringBackend;
let prompt: string;

beforeAll(async () => {
  modelDir = await exportedModelDir("fp32");
  backend = await createTransformersBackend({ modelDir });
  prompt = backend.formatChat([{ role: "user", content: "Describe your morning in two sentences." }]);
});

afterAll(async () => {
  await backend?.dispose();
});

describe("transformers.js backend on the exported SmolLM2 folder", () => {
  it("describes the model from the exporter's config and declares its capabilities", async () => {
    const { sha256 } = await ensureModel(DEFAULT_MODEL_ID);
    expect(backend.name).toBe("transformers.js");
    expect(backend.model).toMatchObject({
      architecture: "llama",
      layerCount: 30,
      hiddenSize: 576,
      vocabSize: 49152,
      fingerprint: sha256.slice(0, 16),
    });
    expect(backend.model.chatTemplate).toContain("<|im_start|>");
    expect(backend.capabilities).toMatchObject({
      steering: true,
      capture: true,
      logProbs: true,
      seededSampling: true,
      steerableLayers: { from: 1, to: 29 },
    });
  });

  it("formats chats with the model's template and parses special-token markup", async () => {
    expect(prompt.endsWith("<|im_start|>user\nDescribe your morning in two sentences.<|im_end|>\n<|im_start|>assistant\n")).toBe(true);
    const tokens = await backend.tokenize("<|im_start|>user\nHi<|im_end|>");
    expect(tokens[0]).toBe(1);
    expect(tokens.at(-1)).toBe(2);
    expect(await backend.detokenize(tokens)).toBe("<|im_start|>user\nHi<|im_end|>");
  });

  it("generates greedily, deterministically, streaming every token", async () => {
    const streamed: string[] = [];
    const first = await backend.generate(prompt, { maxTokens: 16, onToken: ({ text }) => streamed.push(text) });
    const second = await backend.generate([{ role: "user", content: "Describe your morning in two sentences." }], { maxTokens: 16 });
    expect(first.tokens.length).toBe(16);
    expect(first.finishReason).toBe("length");
    expect(streamed).toHaveLength(16);
    expect(streamed.join("")).toBe(first.text);
    expect(first.text).toBe(await backend.detokenize(first.tokens));
    expect(second.tokens).toEqual(first.tokens);
    expect(first.timings).toMatchObject({ promptTokens: (await backend.tokenize(prompt)).length, generatedTokens: 16 });
    expect(first.timings.decodeMs).toBeGreaterThan(0);
  });

  it("adds the steering row of block k to exactly the output of block k", async () => {
    const tokens = await backend.tokenize(prompt);
    const direction = Float32Array.from({ length: 576 }, (_, i) => Math.sin(i));
    const directions = Array.from({ length: 30 }, (_, layer) => (layer === 10 ? direction : new Float32Array(576)));
    const vector = new EmotionVector({
      emotion: "probe",
      model: backend.model,
      directions,
      provenance: {
        method: "algebra",
        settings: {},
        samples: 0,
        corpus: "test",
        corpusHash: "0000000000000000",
        backend: "test",
        createdAt: new Date(0).toISOString(),
      },
    });
    const steering: SteeringSpec = { terms: [{ vector, alpha: 2 }], layers: { from: 10, to: 10 } };
    const request = { tokens, spanStart: tokens.length - 2, spanEnd: tokens.length, layers: [9, 10] };
    const plain = await backend.captureResiduals(request);
    const steered = await backend.captureResiduals({ ...request, steering });
    expect(steered.data[0]).toEqual(plain.data[0]);
    for (let p = 0; p < 2; p++) {
      for (let i = 0; i < 576; i += 37) {
        expect(steered.data[1]![p * 576 + i]! - plain.data[1]![p * 576 + i]!).toBeCloseTo(2 * direction[i]!, 3);
      }
    }
  });

  it("steers generation: α = 0 changes nothing, a large α changes the text", async () => {
    const joy = await joyVector(backend);
    const plain = await backend.generate(prompt, { maxTokens: 20 });
    const zero = await backend.generate(prompt, { maxTokens: 20, steering: { terms: [{ vector: joy, alpha: 0 }] } });
    const steered = await backend.generate(prompt, {
      maxTokens: 20,
      steering: { terms: [{ vector: joy, alpha: 0.6 }], normalization: "none" },
    });
    expect(zero.tokens).toEqual(plain.tokens);
    expect(steered.tokens).not.toEqual(plain.tokens);
    expect(steered.text.length).toBeGreaterThan(0);
  });

  it("samples reproducibly from a seed", async () => {
    const options = { maxTokens: 12, temperature: 0.9, topK: 40, topP: 0.95 };
    const a = await backend.generate(prompt, { ...options, seed: 1 });
    const b = await backend.generate(prompt, { ...options, seed: 1 });
    const others = await Promise.all([2, 3].map((seed) => backend.generate(prompt, { ...options, seed })));
    expect(b.tokens).toEqual(a.tokens);
    expect(others.some((o) => o.tokens.join() !== a.tokens.join())).toBe(true);
  });

  it("stops at a stop string and on abort", async () => {
    const full = await backend.generate(prompt, { maxTokens: 20 });
    const words = full.text.split(" ");
    const stopWord = ` ${words[3]}`;
    const stopped = await backend.generate(prompt, { maxTokens: 20, stop: [stopWord] });
    expect(stopped.finishReason).toBe("stop");
    expect(stopped.text).toBe(full.text.slice(0, full.text.indexOf(stopWord)));

    const controller = new AbortController();
    let seen = 0;
    const aborted = await backend.generate(prompt, {
      maxTokens: 20,
      signal: controller.signal,
      onToken: () => {
        if (++seen === 3) controller.abort();
      },
    });
    expect(aborted.finishReason).toBe("abort");
    expect(aborted.tokens).toEqual(full.tokens.slice(0, 3));
    await expect(backend.generate(prompt, { signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
  });

  it("scores continuations with log-probabilities consistent with greedy decoding", async () => {
    const greedy = await backend.generate(prompt, { maxTokens: 8 });
    const likely = await backend.scoreContinuation(prompt, greedy.text);
    const unlikely = await backend.scoreContinuation(prompt, "Purple wombats calculate tax returns sideways.");
    expect(likely.tokens).toEqual(greedy.tokens);
    expect(likely.logProbs).toHaveLength(likely.tokens.length);
    expect(likely.total).toBeCloseTo(
      likely.logProbs.reduce((a, b) => a + b, 0),
      3,
    );
    expect([...likely.logProbs].every((lp) => lp <= 0)).toBe(true);
    expect(likely.total / likely.tokens.length).toBeGreaterThan(unlikely.total / unlikely.tokens.length + 1);
  });
});

describe("loading", () => {
  it("refuses a graph without a steering input, naming the exporter", async () => {
    const dir = await mkdtemp(join(tmpdir(), "emosteer-unsteerable-"));
    try {
      await writeUnsteerableModel(modelDir, dir);
      const attempt = createTransformersBackend({ modelDir: dir });
      await expect(attempt).rejects.toBeInstanceOf(NotSteerableModelError);
      await expect(attempt).rejects.toThrow(/no `steering` input.*exporter/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a precision the folder does not hold", async () => {
    await expect(createTransformersBackend({ modelDir, precision: "q4" })).rejects.toThrow(/holds the fp32 export, but precision "q4"/);
  });

  it("runs the 4-bit export and disposes idempotently", async () => {
    const q4 = await createTransformersBackend({ modelDir: await exportedModelDir("q4"), precision: "q4" });
    const generation = await q4.generate(prompt, { maxTokens: 6 });
    expect(generation.tokens.length).toBeGreaterThan(0);
    expect(generation.text.trim().length).toBeGreaterThan(0);
    await q4.dispose();
    await q4.dispose();
    expect(q4.disposed).toBe(true);
    await expect(q4.generate(prompt)).rejects.toBeInstanceOf(DisposedError);
  });
});
