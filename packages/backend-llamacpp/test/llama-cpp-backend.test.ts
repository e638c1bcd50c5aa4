import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { AbortedError, DisposedError, type EmotionVector, type SteeringSpec } from "@emosteer/core";
import { ensureModel } from "@emosteer/models";
import { loadPatchedLlama } from "../src/native.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { architectureSupport, type LlamaCppBackend } from "../src/index.js";
import { chatSample, joyVector, MODEL_ID, openSmolLm, smolLmPath } from "./helpers.js";

let backend: LlamaCppBackend;
/** The GPU backend of the addon under test (EMOSTEER_LLAMA_GPU), false on the CPU build. */
let gpu: Awaited<ReturnType<typeof loadPatchedLlama>>["gpu"];
let joy: EmotionVector;
let prompt: string;
/**
 * Unit-normalised joy at α = 2 added on every layer ("per-layer": each block adds its row, as a
 * llama.cpp control-vector file does): coherent and clearly joyful text on SmolLM2.
 */
let joyful: SteeringSpec;

beforeAll(async () => {
  gpu = (await loadPatchedLlama()).gpu;
  backend = await openSmolLm();
  joy = await joyVector(backend);
  prompt = backend.formatChat([{ role: "user", content: "Tell me about your day in two sentences." }]);
  joyful = { terms: [{ vector: joy, alpha: 2 }], normalization: "unit", injection: "per-layer" };
});

afterAll(async () => {
  await backend?.dispose();
});

describe("model", () => {
  it("describes the GGUF: llama, 30 layers × 576, fingerprint = sha256 prefix", async () => {
    const { sha256 } = await ensureModel(MODEL_ID);
    expect(backend.model).toMatchObject({ architecture: "llama", layerCount: 30, hiddenSize: 576, fingerprint: sha256.slice(0, 16) });
    expect(backend.model.vocabSize).toBe(49152);
    expect(backend.capabilities).toMatchObject({ steering: true, capture: true, steerableLayers: { from: 1, to: 29 } });
    const actual = createHash("sha256")
      .update(await readFile(await smolLmPath()))
      .digest("hex");
    expect(actual.slice(0, 16)).toBe(backend.model.fingerprint);
  });

  it("formats chats with the model's own template and parses special tokens", async () => {
    expect(prompt).toBe(
      "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n" +
        "<|im_start|>user\nTell me about your day in two sentences.<|im_end|>\n<|im_start|>assistant\n",
    );
    const tokens = await backend.tokenize("<|im_start|>user\nHi");
    expect(tokens[0]).toBe(1); // <|im_start|> is one special token, id 1 in SmolLM2
    expect(await backend.detokenize(tokens)).toBe("<|im_start|>user\nHi");
  });

  it("declares capabilities per architecture", () => {
    expect(architectureSupport("qwen2")).toEqual({ steering: true, capture: true, tested: true });
    expect(architectureSupport("starcoder2")).toEqual({ steering: true, capture: true, tested: false });
    expect(architectureSupport("minicpm")).toEqual({ steering: false, capture: false, tested: false });
    expect(architectureSupport("granitemoe")).toEqual({ steering: false, capture: false, tested: false });
  });
});

/**
 * Largest relative row error ‖a − b‖ / ‖b‖ over the rows (`hidden` floats each) of two captures of
 * the same tokens and layer.
 */
function worstRowError(a: Float32Array, b: Float32Array, hidden: number): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let row = 0; row < b.length; row += hidden) {
    let d = 0;
    let n = 0;
    for (let i = row; i < row + hidden; i++) {
      d += (a[i]! - b[i]!) ** 2;
      n += b[i]! ** 2;
    }
    worst = Math.max(worst, Math.sqrt(d / n));
  }
  return worst;
}

/**
 * A GPU build computes a batch of other shape (a reused prompt decodes only the span; a small batch
 * size decodes in chunks) with other kernels: ggml-vulkan multiplies batches of ≤ 8 tokens with
 * mat-vec kernels and larger ones with matmul kernels that round the activations differently.
 * Measured on lavapipe (chunks of 7 vs one pass of 19 tokens): worst row error 0.007 at layer 1,
 * 0.033 at layer 15, 0.025 at layer 29. A neighbouring token's row misses by ≥ 0.13 (CPU, same
 * text). The CPU build gives the same rows bit for bit for these shapes, and is held to that.
 */
const GPU_BATCH_SHAPE_ROW_ERROR = 0.08;

describe("captureResiduals", () => {
  it("returns positions × hidden floats for every layer, last layer included", async () => {
    const sample = await chatSample(backend, "What is the capital of France?", "The capital of France is Paris.");
    const capture = await backend.captureResiduals(sample);
    const positions = sample.spanEnd - sample.spanStart;
    expect(capture.layers).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(capture.positions).toBe(positions);
    expect(capture.hiddenSize).toBe(576);
    expect(capture.data).toHaveLength(30);
    for (const rows of capture.data) {
      expect(rows).toHaveLength(positions * 576);
      expect(rows.every(Number.isFinite)).toBe(true);
    }
    // Deeper layers grow the residual stream: a real trace, not zeros or one repeated layer.
    const norm = (rows: Float32Array) => Math.hypot(...rows.subarray(0, 576));
    expect(norm(capture.data[20]!)).toBeGreaterThan(norm(capture.data[1]!));
    expect(capture.data[5]).not.toEqual(capture.data[6]);
  });

  it("gives the same rows for a layer subset, for chunked decoding, and teacher-forced is deterministic", async () => {
    const sample = await chatSample(backend, "Name three colours.", "Red, green and blue.");
    const all = await backend.captureResiduals(sample);
    // The second capture reuses the prompt's KV cache and decodes only the span: another batch shape.
    const some = await backend.captureResiduals({ ...sample, layers: [29, 3] });
    expect(some.layers).toEqual([29, 3]);
    if (gpu === false) {
      expect(some.data[0]).toEqual(all.data[29]);
      expect(some.data[1]).toEqual(all.data[3]);
    } else {
      expect(worstRowError(some.data[0]!, all.data[29]!, 576)).toBeLessThan(GPU_BATCH_SHAPE_ROW_ERROR);
      expect(worstRowError(some.data[1]!, all.data[3]!, 576)).toBeLessThan(GPU_BATCH_SHAPE_ROW_ERROR);
    }
    // A backend with a batch smaller than the sequence decodes it in several chunks.
    const { createLlamaCppBackend } = await import("../src/index.js");
    const chunked = await createLlamaCppBackend({ modelPath: await smolLmPath(), contextSize: 256, batchSize: 7, threads: 2 });
    try {
      const again = await chunked.captureResiduals({ ...sample, layers: [3, 29] });
      for (const [i, layer] of [3, 29].entries()) {
        const a = again.data[i]!;
        const b = all.data[layer]!;
        if (gpu !== false) {
          expect(worstRowError(a, b, 576)).toBeLessThan(GPU_BATCH_SHAPE_ROW_ERROR);
          continue;
        }
        let maxDiff = 0;
        for (let k = 0; k < a.length; k++) maxDiff = Math.max(maxDiff, Math.abs(a[k]! - b[k]!));
        expect(maxDiff).toBeLessThan(1e-2);
      }
    } finally {
      await chunked.dispose();
    }
  });

  it("reusing the previous capture's prompt changes no value; a prefix cut short or computed under other steering is not reused", async () => {
    const question = "What should I pack for a weekend hike?";
    const first = await chatSample(backend, question, "Water, snacks, a map and a warm layer.");
    const second = await chatSample(backend, question, "Oh, how exciting! Bring water, snacks and a camera!");
    expect(second.tokens.slice(0, second.spanStart)).toEqual(first.tokens.slice(0, first.spanStart));
    // The reference: `second` captured by a backend whose KV cache never held anything else.
    const fresh = await openSmolLm();
    let reference: Awaited<ReturnType<LlamaCppBackend["captureResiduals"]>>;
    try {
      reference = await fresh.captureResiduals(second);
    } finally {
      await fresh.dispose();
    }
    // Largest difference to the reference over all layers and rows (a failing toEqual would spend
    // minutes printing a diff of megabytes of floats).
    const deviation = async () => {
      const { data } = await backend.captureResiduals(second);
      let max = 0;
      data.forEach((rows, layer) => {
        const expected = reference.data[layer]!;
        if (rows.length !== expected.length) max = Infinity;
        else for (let i = 0; i < rows.length; i++) max = Math.max(max, Math.abs(rows[i]! - expected[i]!));
      });
      return max;
    };
    await backend.captureResiduals(first); // leaves the shared prompt in the KV cache
    expect(await deviation()).toBe(0);
    // After a capture of another question, `first` decodes its own question: a capture of layer 3
    // only stops the graph there, so those cache rows are stale in later layers…
    const other = await chatSample(backend, "Name a river.", "The Nile.");
    await backend.captureResiduals(other);
    await backend.captureResiduals({ ...first, layers: [3] });
    expect(await deviation()).toBe(0);
    // …and under steering they hold the steered residual stream.
    await backend.captureResiduals(other);
    await backend.captureResiduals({ ...first, steering: joyful });
    expect(await deviation()).toBe(0);
  });

  it("with steering, the first steered layer equals the unsteered one plus the vector; earlier layers are untouched", async () => {
    const sample = await chatSample(backend, "Describe the sea.", "The sea is wide and grey today.");
    const layers = [7, 8, 9];
    const steering: SteeringSpec = { terms: [{ vector: joy, alpha: 3 }], layers: { from: 8, to: 20 }, injection: "per-layer" };
    const plain = await backend.captureResiduals({ ...sample, layers });
    const steered = await backend.captureResiduals({ ...sample, layers, steering });
    expect(steered.data[0]).toEqual(plain.data[0]); // layer 7: before the first steered block
    const direction = joy.directions[8]!;
    const rows = steered.data[1]!;
    let maxErr = 0;
    for (let p = 0; p < steered.positions; p++) {
      for (let i = 0; i < 576; i++) {
        const expected = plain.data[1]![p * 576 + i]! + 3 * direction[i]!;
        maxErr = Math.max(maxErr, Math.abs(rows[p * 576 + i]! - expected));
      }
    }
    expect(maxErr).toBeLessThan(1e-4);
    expect(steered.data[2]).not.toEqual(plain.data[2]); // the change propagates
  });

  it("rejects bad spans and layers with messages that say what is wrong", async () => {
    await expect(async () => backend.captureResiduals({ tokens: [1, 2, 3], spanStart: 2, spanEnd: 2 })).rejects.toThrow(/non-empty range/);
    await expect(async () => backend.captureResiduals({ tokens: [1, 2, 3], spanStart: 0, spanEnd: 3, layers: [30] })).rejects.toThrow(
      /layers 0\.\.29/,
    );
  });
});

describe("generate", () => {
  it("matches node-llama-cpp's own greedy evaluation token for token when unsteered", async () => {
    const ours = await backend.generate(prompt, { maxTokens: 24 });
    expect(ours.tokens.length).toBeGreaterThan(0);
    // Reference: node-llama-cpp's stock sequence.evaluate on the same (patched) build and weights.
    const llama = await loadPatchedLlama();
    const model = await llama.loadModel({ modelPath: await smolLmPath(), gpuLayers: 0 });
    try {
      const context = await model.createContext({ contextSize: 1024, threads: 2, flashAttention: false });
      const sequence = context.getSequence();
      const reference: number[] = [];
      for await (const token of sequence.evaluate(model.tokenize(prompt, true), { temperature: 0 })) {
        if (model.isEogToken(token) || reference.length === ours.tokens.length) break;
        reference.push(token);
      }
      expect(ours.tokens).toEqual(reference);
      await context.dispose();
    } finally {
      await model.dispose();
    }
  });

  it("α·EV changes the greedy output; α = 0 and clearing restore it exactly", async () => {
    const plain = await backend.generate(prompt, { maxTokens: 32 });
    const steered = await backend.generate(prompt, { maxTokens: 32, steering: joyful });
    const zero = await backend.generate(prompt, { maxTokens: 32, steering: { terms: [{ vector: joy, alpha: 0 }] } });
    const after = await backend.generate(prompt, { maxTokens: 32 });
    expect(steered.tokens).not.toEqual(plain.tokens);
    expect(zero.tokens).toEqual(plain.tokens);
    expect(after.tokens).toEqual(plain.tokens);
    expect(plain.text).toBe(await backend.detokenize(plain.tokens));
  });

  it("streams tokens, stops at end-of-generation, honours maxTokens and stop strings, reports timings", async () => {
    const streamed: number[] = [];
    let text = "";
    const hello = backend.formatChat([{ role: "user", content: "Say hello." }]);
    const long = await backend.generate(hello, {
      maxTokens: 200,
      onToken: (t) => {
        streamed.push(t.token);
        text += t.text;
      },
    });
    expect(long.finishReason).toBe("stop"); // a short answer ends with <|im_end|>, which is not returned
    expect(streamed).toEqual(long.tokens);
    expect(text).toBe(long.text);
    expect(long.tokens.length).toBeLessThan(200);
    expect(long.timings.promptTokens).toBe((await backend.tokenize(hello)).length);
    expect(long.timings.generatedTokens).toBe(long.tokens.length);
    expect(long.timings.promptMs).toBeGreaterThan(0);
    expect(long.timings.decodeMs).toBeGreaterThan(0);

    const short = await backend.generate(hello, { maxTokens: 5 });
    expect(short).toMatchObject({ finishReason: "length", tokens: long.tokens.slice(0, 5) });

    const word = long.text.split(" ")[3]!;
    const stopped = await backend.generate(hello, { maxTokens: 200, stop: [word] });
    expect(stopped.finishReason).toBe("stop");
    expect(stopped.text).toBe(long.text.slice(0, long.text.indexOf(word)));
  });

  it("seeded sampling is reproducible and differs across seeds", async () => {
    const options = { maxTokens: 24, temperature: 1, topK: 40, topP: 0.95 };
    const a = await backend.generate(prompt, { ...options, seed: 7 });
    const b = await backend.generate(prompt, { ...options, seed: 7 });
    const others = await Promise.all([1, 2, 3].map((seed) => backend.generate(prompt, { ...options, seed })));
    expect(b.tokens).toEqual(a.tokens);
    expect(others.some((o) => o.text !== a.text)).toBe(true);
  });

  it("aborts through an AbortSignal", async () => {
    const controller = new AbortController();
    let seen = 0;
    const result = await backend.generate(prompt, {
      maxTokens: 100,
      signal: controller.signal,
      onToken: () => {
        if (++seen === 3) controller.abort();
      },
    });
    expect(result.finishReason).toBe("abort");
    expect(result.tokens).toHaveLength(3);
    await expect(async () => backend.generate(prompt, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortedError);
  });

  it("runs concurrent generations with different steering without leaking between them", async () => {
    const configs: { steering: SteeringSpec | null }[] = [
      { steering: null },
      { steering: joyful },
      { steering: { terms: [{ vector: joy, alpha: -4 }], normalization: "unit", injection: "per-layer" } },
      { steering: { terms: [{ vector: joy, alpha: 8 }], normalization: "unit", injection: "per-layer", layers: { from: 8, to: 20 } } },
    ];
    const sequential: (readonly number[])[] = [];
    for (const c of configs) sequential.push((await backend.generate(prompt, { maxTokens: 20, ...c })).tokens);
    const texts = await Promise.all(sequential.map((t) => backend.detokenize(t)));
    expect(new Set(texts).size, JSON.stringify(texts)).toBe(configs.length);
    const concurrent = await Promise.all([...configs, ...configs].map((c) => backend.generate(prompt, { maxTokens: 20, ...c })));
    concurrent.forEach((g, i) => {
      expect(g.tokens).toEqual(sequential[i % configs.length]);
    });
  });
});

describe("scoreContinuation", () => {
  it("returns per-token log-probs that rank the greedy continuation above a scrambled one", async () => {
    const greedy = await backend.generate(prompt, { maxTokens: 12 });
    const score = await backend.scoreContinuation(prompt, greedy.text);
    expect(score.tokens).toEqual(await backend.tokenize(greedy.text));
    expect(score.logProbs).toHaveLength(score.tokens.length);
    for (const lp of score.logProbs) expect(lp).toBeLessThanOrEqual(0);
    expect(score.total).toBeCloseTo(
      score.logProbs.reduce((a, b) => a + b, 0),
      3,
    );
    const scrambled = await backend.scoreContinuation(prompt, greedy.text.split(" ").reverse().join(" "));
    expect(scrambled.total).toBeLessThan(score.total);
    // Greedy tokens are the argmax, so each has log-prob ≥ log(1/2) or is at least not tiny.
    expect(score.logProbs[0]).toBeGreaterThan(Math.log(0.05));
    const steered = await backend.scoreContinuation(prompt, greedy.text, { steering: joyful });
    expect(steered.total).not.toBeCloseTo(score.total, 3);
    const again = await backend.scoreContinuation(prompt, greedy.text);
    expect(again.logProbs).toEqual(score.logProbs);
  });
});

describe("evaluateLogits", () => {
  it("returns raw logits for every position, consistent with scoring and greedy generation", async () => {
    const hello = backend.formatChat([{ role: "user", content: "Say hello." }]);
    const greedy = await backend.generate(hello, { maxTokens: 6 });
    const promptTokens = await backend.tokenize(hello);
    const tokens = [...promptTokens, ...greedy.tokens];
    const logits = await backend.evaluateLogits({ tokens });
    const vocab = backend.model.vocabSize;
    expect(logits).toHaveLength(tokens.length * vocab);
    // Row p's argmax is the greedy token p + 1 over the generated part, up to a near-tie: the
    // batch of all tokens and generation's one token at a time run different ggml kernels (per
    // ISA: tinyBLAS, repacked or AMX tiles for a batch, vec_dot for one row), which round the
    // activations and sum in other orders, so a near-tie may be decided either way. Measured gaps:
    // 0 on one AVX-512 build with AMX, 0.21 logits on AVX-512 without AMX; NEAR_TIE leaves room
    // for other kernels while a row shifted by one position (the bug this guards) misses by whole
    // logits.
    const NEAR_TIE = 0.5;
    for (let k = 0; k < greedy.tokens.length; k++) {
      const row = logits.subarray((promptTokens.length - 1 + k) * vocab, (promptTokens.length + k) * vocab);
      let best = 0;
      for (let i = 1; i < vocab; i++) if (row[i]! > row[best]!) best = i;
      if (best !== greedy.tokens[k]) expect(row[best]! - row[greedy.tokens[k]!]!, `greedy token ${k}`).toBeLessThan(NEAR_TIE);
    }
    const steered = await backend.evaluateLogits({ tokens, steering: joyful });
    expect(steered).not.toEqual(logits);
  });
});

describe("dispose", () => {
  it("is idempotent and later calls throw DisposedError", async () => {
    const other = await openSmolLm({ contextSize: 256 });
    await Promise.all([other.dispose(), other.dispose()]);
    await other.dispose();
    expect(other.disposed).toBe(true);
    await expect(async () => other.generate("hi")).rejects.toBeInstanceOf(DisposedError);
    await expect(async () => other.tokenize("hi")).rejects.toBeInstanceOf(DisposedError);
  });
});
