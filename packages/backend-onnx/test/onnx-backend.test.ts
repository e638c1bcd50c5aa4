import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CaptureRequest,
  DisposedError,
  EmotionVector,
  NotSteerableModelError,
  type ResidualCapture,
  extractEmotionVectors,
  loadContrastCorpus,
  loadQueries,
  type SteeringSpec,
} from "@emosteer/core";
import { onePairJoyVector } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOnnxBackend, type OnnxSteeringBackend } from "../src/index.js";
import { writeTinyGraphWithoutSteering } from "./tiny-graph.js";

const PROMPT = "<|im_start|>user\nTell me about your weekend.<|im_end|>\n<|im_start|>assistant\n";

describe("ONNX backend on SmolLM2-135M-Instruct (fp32)", () => {
  let backend: OnnxSteeringBackend;

  beforeAll(async () => {
    const { path } = await ensureModel("smollm2-135m-instruct");
    backend = await createOnnxBackend({ modelPath: path, precision: "fp32" });
  });

  afterAll(async () => {
    await backend?.dispose();
  });

  it("describes the model and its capabilities", () => {
    expect(backend.model.architecture).toBe("llama");
    expect(backend.model.layerCount).toBe(30);
    expect(backend.model.hiddenSize).toBe(576);
    expect(backend.model.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(backend.capabilities).toMatchObject({ steering: true, capture: true, logProbs: true, steerableLayers: { from: 1, to: 29 } });
  });

  it("formats chats with the model's template and tokenizes special markup", async () => {
    const text = backend.formatChat([{ role: "user", content: "Hi" }]);
    expect(text).toContain("<|im_start|>user\nHi<|im_end|>");
    expect(text.endsWith("<|im_start|>assistant\n")).toBe(true);
    const tokens = await backend.tokenize(text);
    expect(tokens.filter((t) => t === 1).length).toBeGreaterThanOrEqual(2);
    expect(await backend.detokenize(tokens)).toBe(text);
  });

  it("cached decoding equals an uncached full forward within 1e-4", async () => {
    const tokens = await backend.tokenize(`${PROMPT}I went hiking with some friends and we saw a lake.`);
    const full = await backend.logits(tokens);
    for (const chunkSize of [1, 7]) {
      const cached = await backend.logits(tokens, { chunkSize });
      let maxDiff = 0;
      for (let i = 0; i < full.length; i++) maxDiff = Math.max(maxDiff, Math.abs(full[i]! - cached[i]!));
      expect(maxDiff).toBeLessThan(1e-4);
    }
  });

  it("greedy generation follows the argmax of a full forward, streams tokens and reports timings", async () => {
    const streamed: string[] = [];
    const generation = await backend.generate(PROMPT, { maxTokens: 12, onToken: (t) => streamed.push(t.text) });
    expect(generation.tokens.length).toBeGreaterThan(0);
    expect(streamed.join("")).toBe(generation.text);
    const prompt = await backend.tokenize(PROMPT);
    const all = [...prompt, ...generation.tokens];
    const logits = await backend.logits(all.slice(0, -1));
    const V = backend.model.vocabSize;
    generation.tokens.forEach((token, i) => {
      const row = logits.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V);
      expect(token).toBe(row.indexOf(Math.max(...row)));
    });
    expect(generation.timings.promptTokens).toBe(prompt.length);
    expect(generation.timings.generatedTokens).toBe(generation.tokens.length);
    expect(generation.timings.promptMs).toBeGreaterThan(0);
  });

  it("stops at the end-of-turn token on a short answer", async () => {
    const generation = await backend.generate([{ role: "user", content: "What is the capital of France? Answer in one word." }], {
      maxTokens: 40,
    });
    expect(generation.finishReason).toBe("stop");
    expect(generation.text).toMatch(/Paris/);
  });

  it("samples reproducibly with a seed", async () => {
    const options = { temperature: 1, maxTokens: 10, seed: 1234 };
    const a = await backend.generate(PROMPT, options);
    const b = await backend.generate(PROMPT, options);
    expect(a.tokens).toEqual(b.tokens);
    const others = await Promise.all([1, 2, 3].map((seed) => backend.generate(PROMPT, { ...options, seed })));
    expect(others.some((o) => o.tokens.join() !== a.tokens.join())).toBe(true);
  });

  it("aborts a generation", async () => {
    const controller = new AbortController();
    const generation = await backend.generate(PROMPT, { maxTokens: 50, signal: controller.signal, onToken: () => controller.abort() });
    expect(generation.finishReason).toBe("abort");
    expect(generation.tokens.length).toBe(1);
  });

  it("scores a continuation as the log-softmax of the full forward", async () => {
    const score = await backend.scoreContinuation(PROMPT, "I stayed home and read a book.");
    expect(score.tokens).toEqual(await backend.tokenize("I stayed home and read a book."));
    expect(score.logProbs.every((lp) => Number.isFinite(lp) && lp <= 0)).toBe(true);
    expect(score.total).toBeCloseTo(
      score.logProbs.reduce((a, b) => a + b, 0),
      4,
    );
    const unlikely = await backend.scoreContinuation(PROMPT, "purple elephant calculus zebra");
    expect(unlikely.total).toBeLessThan(score.total);
  });

  it("steering adds exactly its row to the residual stream and changes generation", async () => {
    const { hiddenSize } = backend.model;
    const tokens = await backend.tokenize(PROMPT);
    // A one-pair direction (the mean residual of a joyful text minus a neutral one, core/node's).
    const vector = await onePairJoyVector(backend, "test");
    const { directions } = vector;
    const spec: SteeringSpec = { terms: [{ vector, alpha: 1 }], layers: [3] };
    const plain = await backend.captureResiduals({ tokens, spanStart: 0, spanEnd: tokens.length, layers: [3, 4] });
    const steered = await backend.captureResiduals({ tokens, spanStart: 0, spanEnd: tokens.length, layers: [3, 4], steering: spec });
    let maxErr = 0;
    for (let p = 0; p < tokens.length; p++) {
      for (let i = 0; i < hiddenSize; i++) {
        const delta = steered.data[0]![p * hiddenSize + i]! - plain.data[0]![p * hiddenSize + i]!;
        maxErr = Math.max(maxErr, Math.abs(delta - directions[3]![i]!));
      }
    }
    expect(maxErr).toBeLessThan(1e-3);
    expect(steered.data[1]).not.toEqual(plain.data[1]);

    const zero = await backend.logits(tokens, { steering: { terms: [{ vector, alpha: 0 }] } });
    const none = await backend.logits(tokens);
    expect(Buffer.from(zero.buffer).equals(Buffer.from(none.buffer))).toBe(true);

    const unsteered = await backend.generate(PROMPT, { maxTokens: 24 });
    const joyful = await backend.generate(PROMPT, {
      maxTokens: 24,
      steering: { terms: [{ vector, alpha: 4 }], layers: { from: 4, to: 12 } },
    });
    expect(joyful.text).not.toBe(unsteered.text);
  });

  it("steers with a vector extracted on this backend by core's extractEmotionVectors", async () => {
    const vectors = await extractEmotionVectors(backend, { emotions: ["joy"], maxQueries: 4 });
    const joy = vectors.get("joy")!;
    expect(joy.provenance.backend).toBe("onnx");
    expect(joy.norms()[10]).toBeGreaterThan(0);
    const prompt = backend.formatChat([{ role: "user", content: "Describe the weather today." }]);
    const plain = await backend.generate(prompt, { maxTokens: 32 });
    const steered = await backend.generate(prompt, {
      maxTokens: 32,
      steering: { terms: [{ vector: joy, alpha: 0.5 }], layers: { from: 6, to: 20 } },
    });
    expect(steered.text).not.toBe(plain.text);
    // The steered model finds a joyful continuation more likely than the unsteered one does.
    const joyfulLine = "What a wonderful, happy day! I love it!";
    const before = await backend.scoreContinuation(prompt, joyfulLine);
    const after = await backend.scoreContinuation(prompt, joyfulLine, {
      steering: { terms: [{ vector: joy, alpha: 0.5 }], layers: { from: 6, to: 20 } },
    });
    expect(after.total).toBeGreaterThan(before.total);
  }, 300_000); // extraction-sized work: minutes on a loaded 2-core machine

  it("captures requested together (their shared prompt evaluated once) equal one-at-a-time captures", async () => {
    // Two queries of the contrast corpus, each with its neutral and five emotional answers: the
    // texts core's extraction requests together (here all at once: a batch of 8 over the prompts'
    // common start, then one of 5 over the second prompt, each continued as padded runs). Plus one
    // steered capture and one on other layers.
    const texts = new Map(loadQueries().queries.map((q) => [q.id, q.text]));
    const requests: CaptureRequest[] = [];
    for (const item of loadContrastCorpus().items.slice(0, 2)) {
      const prompt = backend.formatChat([{ role: "user", content: texts.get(item.queryId)! }]);
      const spanStart = (await backend.tokenize(prompt)).length;
      for (const answer of [item.neutral, ...Object.values(item.emotional)]) {
        const tokens = await backend.tokenize(prompt + answer);
        requests.push({ tokens, spanStart, spanEnd: tokens.length });
      }
    }
    const joy = new EmotionVector({
      emotion: "joy",
      model: backend.model,
      directions: Array.from({ length: 30 }, (_, l) => new Float32Array(576).fill(l === 0 ? 0 : 0.05)),
      provenance: {
        method: "mean-diff",
        settings: {},
        samples: 1,
        corpus: "test",
        corpusHash: "0",
        backend: "onnx",
        createdAt: "2026-01-01",
      },
    });
    requests.push({ ...requests[1]!, steering: { terms: [{ vector: joy, alpha: 1 }] } });
    requests.push({ ...requests[2]!, spanEnd: requests[2]!.spanEnd - 3, layers: [29, 5] });
    const alone: ResidualCapture[] = [];
    for (const request of requests) alone.push(await backend.captureResiduals(request));
    const together = await Promise.all(requests.map((r) => backend.captureResiduals(r)));
    let worst = 0;
    together.forEach((capture, r) => {
      expect(capture.layers).toEqual(alone[r]!.layers);
      expect(capture.positions).toBe(alone[r]!.positions);
      capture.data.forEach((rows, l) => {
        const reference = alone[r]!.data[l]!;
        expect(rows.length).toBe(reference.length);
        const scale = reference.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        const diff = rows.reduce((m, x, i) => Math.max(m, Math.abs(x - reference[i]!)), 0);
        worst = Math.max(worst, diff / scale);
      });
    });
    // Float rounding only (other matmul shapes): far below what steering or another text changes.
    expect(worst).toBeLessThan(1e-4);
    expect(together[12]!.data[1]).not.toEqual(together[1]!.data[1]); // the steered row kept its own steering
  }, 300_000); // extraction-sized work: minutes on a loaded 2-core machine
});

describe("ONNX backend guards", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "emosteer-unsteerable-"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a graph without a steering input (never a silent unsteered run)", async () => {
    const { path } = await ensureModel("smollm2-135m-instruct");
    const source = await createOnnxBackend({ modelPath: path });
    try {
      // Same folder, but model.onnx is a graph with no `steering` input.
      await mkdir(join(dir, "onnx"), { recursive: true });
      for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json"]) await copyFile(join(source.modelDir, f), join(dir, f));
      const config = JSON.parse(await readFile(join(dir, "config.json"), "utf8"));
      await writeFile(join(dir, "config.json"), JSON.stringify(config));
      writeTinyGraphWithoutSteering(join(dir, "onnx"));
      await expect(createOnnxBackend({ modelDir: dir })).rejects.toBeInstanceOf(NotSteerableModelError);
      await expect(createOnnxBackend({ modelDir: dir })).rejects.toThrow(/no "steering" input.*@emosteer\/onnx-export/);
    } finally {
      await source.dispose();
      await source.dispose(); // idempotent
    }
    await expect(source.tokenize("hi")).rejects.toBeInstanceOf(DisposedError);
  });
});

describe("ONNX backend, 4-bit export (q4)", () => {
  it("agrees with the fp32 export on most next tokens and is several times smaller", async () => {
    const { path } = await ensureModel("smollm2-135m-instruct");
    const fp32 = await createOnnxBackend({ modelPath: path, precision: "fp32" });
    const q4 = await createOnnxBackend({ modelPath: path, precision: "q4" });
    try {
      expect(q4.precision).toBe("q4");
      expect(q4.model.fingerprint).toBe(fp32.model.fingerprint);
      const tokens = await fp32.tokenize(
        `${PROMPT}I went hiking with some friends, and we saw a lake surrounded by pine trees. Later we cooked dinner together.`,
      );
      const [a, b] = [await fp32.logits(tokens), await q4.logits(tokens)];
      const V = fp32.model.vocabSize;
      let agree = 0;
      for (let p = 0; p < tokens.length; p++) {
        const ra = a.subarray(p * V, (p + 1) * V);
        const rb = b.subarray(p * V, (p + 1) * V);
        if (ra.indexOf(Math.max(...ra)) === rb.indexOf(Math.max(...rb))) agree++;
      }
      // Measured 92.5 % on 160 positions of the contrast corpus (int8 activations, 8-bit head).
      expect(agree / tokens.length).toBeGreaterThanOrEqual(0.8);
      const generation = await q4.generate([{ role: "user", content: "What is the capital of France? Answer in one word." }], {
        maxTokens: 16,
      });
      expect(generation.text).toMatch(/Paris/);
    } finally {
      await fp32.dispose();
      await q4.dispose();
    }
  });
});
