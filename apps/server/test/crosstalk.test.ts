// Issue 14's cross-talk target in small, on the batched path: four differently-steered requests
// decode together in one engine session (deterministic schedule: fixed arrival order, request i in
// row i, all in the session before its first step), and each greedy answer must not change when
// the steering of the requests beside it changes. On a serialised engine this would hold
// trivially, so this test opens each engine with batched sessions itself (llama.cpp: one
// llama_decode per step with a steering row per sequence; ONNX and transformers.js: a [batch, L, H]
// steering input), whatever EMOSTEER_SERVER_TEST_BACKEND says.
import { openBackend } from "@emosteer/backends";
import type { EmotionVector, SteeringBackend } from "@emosteer/core";
import { cachedEmotionVectors } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type EmosteerServer } from "../src/index.js";
import { MODEL_ID } from "./fixture.js";

const SLOTS = 4;
// Prompts of different lengths, so the rows carry different KV lengths (left padding) in one run.
const QUESTIONS = ["How do I bake bread?", "Describe your morning.", "What is a good name for a cat?", "Tell me about the sea."];
type Mix = Record<string, number>;
const MIXES_A: Mix[] = [{ joy: 3 }, { anger: 3 }, { fear: 2.5, joy: -1 }, { sadness: 3 }];
const MIXES_B: Mix[] = [{ anger: -3 }, { sadness: -2.5, fear: 2 }, { joy: -3 }, { anger: 3, joy: 1 }];

describe.each(["llama.cpp", "onnx", "transformers.js"])("the batched path (one %s engine session behind the slots)", (engineName) => {
  let backend: SteeringBackend;
  let vectors: ReadonlyMap<string, EmotionVector>;
  let server: EmosteerServer;
  let client: OpenAI;

  beforeAll(async () => {
    const { path } = await ensureModel(MODEL_ID);
    backend = await openBackend(engineName, { modelPath: path });
    vectors = await cachedEmotionVectors(backend);
    server = await startServer({
      backend,
      vectors,
      modelId: MODEL_ID,
      port: 0,
      slots: SLOTS,
      startTogether: SLOTS,
      maxQueue: SLOTS,
      playground: false,
      log: () => undefined,
    });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 });
  });

  afterAll(async () => {
    await server?.close();
    await backend?.dispose();
  });

  /** One deterministic-schedule round: request i (QUESTIONS[i], mixes[i]) arrives i-th and decodes in row i. */
  async function round(mixes: readonly Mix[]) {
    const before = server.session!.stats;
    const answers = [];
    for (const [i, mix] of mixes.entries()) {
      const steering: Record<string, unknown> = { emotions: mix }; // emosteer's own body field, sent as is by the client
      answers.push(
        client.chat.completions.create({
          model: MODEL_ID,
          max_tokens: 8,
          temperature: 0,
          messages: [{ role: "user", content: QUESTIONS[i]! }],
          ...steering,
        }),
      );
      // Fixed arrival order: the next request is sent once this one waits in the queue.
      for (let t = 0; t < 200 && server.scheduler.queued < i + 1 && server.scheduler.running === 0; t++)
        await new Promise((r) => setTimeout(r, 25));
    }
    const texts = (await Promise.all(answers)).map((a) => {
      expect(a.usage?.completion_tokens).toBeGreaterThan(0);
      return a.choices[0]!.message.content;
    });
    const after = server.session!.stats;
    return { texts, decodeRuns: after.decodeRuns - before.decodeRuns, sharedRuns: after.sharedRuns - before.sharedRuns };
  }

  it("cross-talk, deterministic schedule (4 slots): four differently-steered requests share every decode step, each answer independent of its neighbours' steering", async () => {
    expect(server.session?.parallelSequences).toBe(SLOTS);
    const a = await round(MIXES_A);
    // Rows 0–1 keep their mixes while rows 2–3 change, then the other way round.
    const b = await round([MIXES_A[0]!, MIXES_A[1]!, MIXES_B[2]!, MIXES_B[3]!]);
    const c = await round([MIXES_B[0]!, MIXES_B[1]!, MIXES_A[2]!, MIXES_A[3]!]);
    for (const r of [a, b, c]) {
      // Every decode step carried ≥ 2 sequences in its one engine run: the rows really were batched.
      expect(r.decodeRuns).toBeGreaterThan(0);
      expect(r.sharedRuns).toBe(r.decodeRuns);
    }
    expect(server.session!.stats.maxSequencesInOneRun).toBe(SLOTS);
    expect(b.texts.slice(0, 2)).toEqual(a.texts.slice(0, 2));
    expect(c.texts.slice(2)).toEqual(a.texts.slice(2));
    // The neighbours' change was real: their own answers moved, so the test is not vacuous.
    expect([b.texts[2], b.texts[3], c.texts[0], c.texts[1]]).not.toEqual([a.texts[2], a.texts[3], a.texts[0], a.texts[1]]);

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^emosteer_shared_decode_runs [1-9]\d*$/m);
    expect(metrics).toMatch(new RegExp(`^emosteer_max_sequences_per_decode_run ${SLOTS}$`, "m"));
  });

  // Once, on ONNX: these are the server's scheduling rules around any session (their timing leans on an
  // 8 s deadline, which llama.cpp's spinning threads can miss on an oversubscribed machine); the
  // llama.cpp session's own abort and dispose rules are conformance cases ("llama.cpp session").
  if (engineName === "onnx")
    it("keeps the queue, 429, timeout and cancel behaviour on the batched path", async () => {
      const busy = await startServer({
        backend,
        vectors,
        modelId: MODEL_ID,
        port: 0,
        slots: 2,
        maxQueue: 1,
        // Long enough for the queued 4-token request to be admitted and finish on a loaded machine
        // (its deadline runs from its arrival, a few ms after slow's); slow cannot finish in it.
        timeoutMs: 8000,
        maxTokens: 3000,
        playground: false,
        log: () => undefined,
      });
      const post = (body: object, signal?: AbortSignal) =>
        fetch(`${busy.url}/v1/chat/completions`, {
          method: "POST",
          ...(signal ? { signal } : {}),
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            model: MODEL_ID,
            temperature: 0,
            messages: [{ role: "user", content: "Tell me a long story." }],
            ...body,
          }),
        });
      try {
        const cancelled = new AbortController();
        const streaming = await post({ max_tokens: 400, stream: true, emotions: { joy: 2 } }, cancelled.signal);
        expect(streaming.status).toBe(200);
        // Beside it in the session until its timeout: anger at 2 loops without an end-of-turn token, and
        // 3,000 tokens take far longer than 8 s on any CPU.
        const slow = post({ max_tokens: 3000, emotions: { anger: 2 } });
        const queued = post({ max_tokens: 4 });
        for (let i = 0; i < 100 && busy.scheduler.queued < 1; i++) await new Promise((r) => setTimeout(r, 20));
        expect(busy.scheduler.running).toBe(2);
        expect((await post({ max_tokens: 4 })).status).toBe(429);
        cancelled.abort();
        expect((await slow).status).toBe(504);
        expect((await queued).status).toBe(200);
        for (let i = 0; i < 200 && busy.scheduler.running + busy.scheduler.queued > 0; i++) await new Promise((r) => setTimeout(r, 25));
        expect(busy.scheduler.running + busy.scheduler.queued).toBe(0);
        expect(busy.session!.stats.sharedRuns).toBeGreaterThan(0);
        expect((await post({ max_tokens: 4 })).status).toBe(200);
      } finally {
        await busy.close();
      }
    });
});
