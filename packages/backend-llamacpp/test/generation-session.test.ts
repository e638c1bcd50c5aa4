import { type EmotionVector, resolveSteering, type SteeringSpec } from "@emosteer/core";
import type { LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { controlVectorOf, type ControlVector } from "../src/control-vector.js";
import { createLlamaCppBackend, type LlamaCppBackend } from "../src/index.js";
import { bindingsOf, loadPatchedLlama, nativeModelOf, type NativeContext } from "../src/native.js";
import { joyVector, openSmolLm, smolLmPath } from "./helpers.js";

// Chat prompts of different lengths, so the batched sequences sit at different positions.
const QUESTIONS = ["Tell me about your weekend.", "Describe the view from a mountain top at sunrise, in one sentence.", "How was work?"];
const EXTRA = "What did you cook for dinner yesterday?";
const MAX_TOKENS = [8, 4, 8, 6]; // the second leaves early, the fourth joins when it does

/**
 * Every comparison here is exact, and between runs of the same batch schedule (the same sequences
 * at the same positions in the same decodes): batching changes the matmul shapes, so a sequence
 * decoded alone may differ from its batched self in the last bits with quantized kernels, but a
 * sequence's result never depends on the values its neighbours carry.
 */
describe("llama.cpp generation session: per-request steering batched in one llama_decode (SmolLM2-135M Q8_0)", () => {
  let backend: LlamaCppBackend;
  let joy: EmotionVector;
  let prompts: string[];
  const spec = (alpha: number, layers?: { from: number; to: number }): SteeringSpec => ({
    terms: [{ vector: joy, alpha }],
    normalization: "unit",
    injection: "per-layer",
    ...(layers ? { layers } : {}),
  });
  // All layers (the last one too: its rows are the output tokens only), and two sub-ranges.
  let specs: SteeringSpec[];

  beforeAll(async () => {
    backend = await openSmolLm({ contextSize: 256 });
    joy = await joyVector(backend);
    prompts = [...QUESTIONS, EXTRA].map((content) => backend.formatChat([{ role: "user", content }]));
    specs = [spec(4), spec(-4, { from: 4, to: 12 }), spec(8, { from: 8, to: 20 }), spec(-2)];
  });

  afterAll(async () => {
    await backend?.dispose();
  });

  /** Runs prompts[i] with steering[i], all requested at once, in one session of `parallel` sequences. */
  const together = async (steering: readonly (SteeringSpec | null)[], parallel = 3, at: readonly string[] = prompts) => {
    const session = backend.createSession({ parallelSequences: parallel });
    try {
      const generations = await Promise.all(
        at.map((p, i) => session.generate(p, { maxTokens: MAX_TOKENS[i]!, steering: steering[i] ?? null })),
      );
      return { tokens: generations.map((g) => g.tokens), stats: session.stats };
    } finally {
      await session.dispose();
    }
  };

  it("puts ≥ 2 sequences into one llama_decode; requests join when others leave", async () => {
    const { tokens, stats } = await together(specs);
    expect(tokens.map((t) => t.length)).toEqual(MAX_TOKENS);
    expect(stats.maxSequencesInOneRun).toBe(3);
    expect(stats.sharedRuns).toBeGreaterThan(0);
    expect(stats.promptRuns).toBe(prompts.length);
    // Every token after the first comes from a decode step (the first from its prompt pass).
    expect(stats.decodeRuns).toBeLessThan(MAX_TOKENS.reduce((n, m) => n + m - 1, 0));
  });

  it("zero cross-talk: a sequence's greedy tokens do not change when its neighbours' steering changes", async () => {
    const a = await together(specs);
    const b = await together([specs[0]!, null, specs[0]!, null]);
    const c = await together([specs[0]!, specs[3]!, spec(-6), spec(3, { from: 2, to: 6 })]);
    expect(b.tokens[0]).toEqual(a.tokens[0]);
    expect(c.tokens[0]).toEqual(a.tokens[0]);
    // The neighbours' own steering did change what they generated.
    expect(b.tokens.slice(1)).not.toEqual(a.tokens.slice(1));
  });

  it("steers each phase per sequence (apply: prompt | generation | both)", async () => {
    // One prompt in every sequence; runs compared position by position (the same schedule).
    const same = [prompts[0]!, prompts[0]!, prompts[0]!];
    const strong = spec(8);
    const run = (applies: readonly (SteeringSpec["apply"] | null)[]) =>
      together(
        applies.map((apply) => (apply ? { ...strong, apply } : null)),
        3,
        same,
      );
    const first = await run(["generation", "prompt", null]);
    const second = await run([null, "both", "both"]);
    // Sequence 0: the prompt pass unsteered in both runs, the generation steered in the first only.
    expect(first.tokens[0]![0]).toBe(second.tokens[0]![0]);
    expect(first.tokens[0]).not.toEqual(second.tokens[0]);
    // Sequence 1: the prompt pass steered in both runs, the generation in the second only.
    expect(first.tokens[1]![0]).toBe(second.tokens[1]![0]);
    expect(first.tokens[1]).not.toEqual(second.tokens[1]);
  });

  it("A → B → A: whole-context control vectors switched across generations equal fresh contexts'", async () => {
    const tokens = await backend.tokenize(prompts[1]!);
    const [A, B] = [spec(4), spec(-4, { from: 4, to: 12 })];
    const switched = [];
    for (const steering of [A, B, A]) switched.push(await backend.evaluateLogits({ tokens, steering }));
    const fresh = async (steering: SteeringSpec) => {
      const other = await createLlamaCppBackend({ modelPath: await smolLmPath(), contextSize: 256, threads: 2 });
      try {
        return await other.evaluateLogits({ tokens, steering });
      } finally {
        await other.dispose();
      }
    };
    const [freshA, freshB] = [await fresh(A), await fresh(B)];
    expect(sameBits(freshA, freshB)).toBe(false);
    expect(sameBits(switched[0]!, freshA)).toBe(true);
    expect(sameBits(switched[1]!, freshB)).toBe(true);
    expect(sameBits(switched[2]!, freshA)).toBe(true);
    // The same across generations (greedy decoding: the graph is reused between tokens).
    const generated = [];
    for (const steering of [A, B, A]) generated.push((await backend.generate(prompts[1]!, { maxTokens: 6, steering })).tokens);
    expect(generated[2]).toEqual(generated[0]);
    expect(generated[1]).not.toEqual(generated[0]);
  });
});

/**
 * The patched llama.cpp itself: the same batch decoded with every sequence's steering row set to
 * one vector, and with that vector as today's whole-context control vector, gives bit-identical
 * logits; no row set gives the unsteered logits bit for bit.
 */
describe("llama.cpp per-sequence steering table (llama_set_adapter_cvec_seq)", () => {
  const SEQUENCES = 3;
  const STEPS = 5;
  let model: LlamaModel;
  let backend: LlamaCppBackend;
  let vector: ControlVector;
  let prompts: number[][];

  beforeAll(async () => {
    backend = await openSmolLm({ contextSize: 256 });
    const joy = await joyVector(backend);
    // All layers, so the last layer (whose rows are the output tokens only) is steered too.
    vector = controlVectorOf(resolveSteering({ terms: [{ vector: joy, alpha: 4 }], normalization: "unit" }, backend.model), backend.model)!;
    prompts = await Promise.all(QUESTIONS.map((q) => backend.tokenizeChat([{ role: "user", content: q }])));
    const llama = await loadPatchedLlama();
    model = await llama.loadModel({ modelPath: await smolLmPath(), gpuLayers: 0 });
  });

  afterAll(async () => {
    await model?.dispose();
    await backend?.dispose();
  });

  /** Prompt passes (each sequence alone), then STEPS greedy decodes of all sequences in one batch; every logit row. */
  const decodeAll = async (steer: (ctx: NativeContext) => void) => {
    const llama = await loadPatchedLlama();
    const ctx = new (bindingsOf(llama).AddonContext)(nativeModelOf(model), {
      contextSize: 256 * SEQUENCES,
      batchSize: 256,
      sequences: SEQUENCES,
      threads: 2,
      flashAttention: false,
    });
    expect(await ctx.init()).toBe(true);
    try {
      steer(ctx);
      const logits: Float32Array[] = [];
      const last: number[] = [];
      for (const [s, tokens] of prompts.entries()) {
        ctx.initBatch(tokens.length);
        ctx.addToBatch(s, 0, Uint32Array.from(tokens), Uint32Array.of(tokens.length - 1));
        await ctx.decodeBatch();
        const row = ctx.getBatchLogits();
        logits.push(row);
        last.push(argmax(row));
      }
      for (let step = 0; step < STEPS; step++) {
        ctx.initBatch(SEQUENCES);
        for (const [s, tokens] of prompts.entries()) ctx.addToBatch(s, tokens.length + step, Uint32Array.of(last[s]!), Uint32Array.of(0));
        await ctx.decodeBatch();
        const rows = ctx.getBatchLogits();
        logits.push(rows);
        const vocab = rows.length / SEQUENCES;
        for (let s = 0; s < SEQUENCES; s++) last[s] = argmax(rows.subarray(s * vocab, (s + 1) * vocab));
      }
      return logits;
    } finally {
      await ctx.dispose();
    }
  };

  it("every sequence's row set to one vector equals that vector on the whole context, bit for bit", async () => {
    const perSequence = await decodeAll((ctx) => {
      for (let s = 0; s < SEQUENCES; s++) ctx.setSequenceSteering(s, vector.rows, vector.from, vector.to);
    });
    const wholeContext = await decodeAll((ctx) => ctx.setControlVector(vector.rows, vector.from, vector.to));
    const unsteered = await decodeAll(() => {});
    const cleared = await decodeAll((ctx) => {
      ctx.setSequenceSteering(1, vector.rows, vector.from, vector.to);
      ctx.setSequenceSteering(1, null);
    });
    expect(perSequence).toHaveLength(prompts.length + STEPS);
    expect(perSequence.map((rows, i) => sameBits(rows, wholeContext[i]!))).toEqual(perSequence.map(() => true));
    expect(cleared.map((rows, i) => sameBits(rows, unsteered[i]!))).toEqual(cleared.map(() => true));
    expect(sameBits(perSequence[0]!, unsteered[0]!)).toBe(false);
  });

  it("refuses a sequence id outside the context and a vector of the wrong length", async () => {
    const llama = await loadPatchedLlama();
    const ctx = new (bindingsOf(llama).AddonContext)(nativeModelOf(model), {
      contextSize: 256,
      batchSize: 64,
      sequences: 2,
      threads: 2,
    });
    expect(await ctx.init()).toBe(true);
    try {
      expect(() => ctx.setSequenceSteering(2, vector.rows, vector.from, vector.to)).toThrow(/below the context's sequence count/);
      expect(() => ctx.setSequenceSteering(0, vector.rows.subarray(1), vector.from, vector.to)).toThrow(/n_embd \* \(n_layer - 1\)/);
    } finally {
      await ctx.dispose();
    }
  });
});

/** Bit-identical float arrays (a fast comparison for millions of logits). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}
