import { describe, expect, it } from "vitest";
import {
  AbortedError,
  type CaptureRequest,
  type ChatMessage,
  type ExtractionProgress,
  UnknownEmotionError,
  UnsupportedCapabilityError,
  captureResponse,
  cosineSimilarity,
  extractEmotionVectors,
  loadContrastCorpus,
  loadQueries,
  loadSystemPrompts,
  type ResidualCapture,
} from "../src/index.js";
import { LinearBackend, formatChat, linearModel, residual, tokenize } from "./linear-backend.js";

const steerable = [1, 2, 3];

/** Hand computation: residuals of the response tokens of `context` + `response`, one row per position, per layer. */
function responseResiduals(context: readonly ChatMessage[], response: string, layer: number): number[][] {
  const prompt = formatChat(context, true);
  const promptTokens = tokenize(prompt);
  const tokens = tokenize(prompt + response);
  expect(tokens.slice(0, promptTokens.length)).toEqual(promptTokens);
  return Array.from({ length: tokens.length - promptTokens.length }, (_, i) => residual(tokens, layer, promptTokens.length + i));
}

const mean = (rows: number[][]) => rows[0]!.map((_, i) => rows.reduce((s, r) => s + r[i]!, 0) / rows.length);
const sub = (a: number[], b: number[]) => a.map((x, i) => x - b[i]!);
const norm = (v: number[]) => Math.hypot(...v);

function expectClose(actual: ArrayLike<number>, expected: readonly number[]): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((x, i) => {
    expect(Math.abs(actual[i]! - x)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(x)));
  });
}

/** The contrast items the facade uses for maxQueries = n: evenly spaced over the corpus. */
function spreadItems(n: number) {
  const items = loadContrastCorpus().items;
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]!);
}

const queryText = (id: string) => loadQueries().queries.find((q) => q.id === id)!.text;

describe("extractEmotionVectors on the fixed corpus", () => {
  it("mean-diff: per layer, the mean over queries of mean(emotional response) − mean(neutral response), span = response tokens only", async () => {
    const backend = new LinearBackend();
    const progress: ExtractionProgress[] = [];
    const vectors = await extractEmotionVectors(backend, { emotions: ["joy", "fear"], maxQueries: 3, onProgress: (p) => progress.push(p) });
    expect([...vectors.keys()]).toEqual(["joy", "fear"]);

    // Each text captured once: 3 neutral responses serve both emotions.
    expect(backend.captures).toHaveLength(3 + 3 * 2);
    expect(progress.map((p) => p.done)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(progress.every((p) => p.total === 9 && p.phase === "capture")).toBe(true);
    for (const request of backend.captures) {
      expect(request.layers).toEqual(steerable);
      expect(request.spanEnd).toBe(request.tokens.length);
    }

    const items = spreadItems(3);
    for (const emotion of ["joy", "fear"] as const) {
      const vector = vectors.get(emotion)!;
      expect(vector.model).toEqual({
        architecture: "linear",
        name: "linear-toy",
        layerCount: 4,
        hiddenSize: 6,
        fingerprint: "1111222233334444",
      });
      expect([...vector.directions[0]!]).toEqual([0, 0, 0, 0, 0, 0]);
      for (const layer of steerable) {
        const differences = items.map((item) => {
          const context: ChatMessage[] = [{ role: "user", content: queryText(item.queryId) }];
          return sub(
            mean(responseResiduals(context, item.emotional[emotion], layer)),
            mean(responseResiduals(context, item.neutral, layer)),
          );
        });
        expectClose(vector.directions[layer]!, mean(differences));
        const neutralNorms = items.map((item) => {
          const rows = responseResiduals([{ role: "user", content: queryText(item.queryId) }], item.neutral, layer);
          return rows.reduce((s, r) => s + norm(r), 0) / rows.length;
        });
        expectClose([vector.residualNorms![layer]!], [neutralNorms.reduce((a, b) => a + b) / 3]);
      }
      expect(vector.provenance).toMatchObject({
        method: "mean-diff",
        samples: 3,
        corpus: "fixed",
        backend: "linear",
        settings: { pooling: "mean" },
      });
      expect(vector.provenance.corpusHash).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(vectors.get("joy")!.provenance.corpusHash).not.toBe(vectors.get("fear")!.provenance.corpusHash);
    const again = await extractEmotionVectors(new LinearBackend(), { emotions: ["joy"], maxQueries: 3 });
    expect(again.get("joy")!.provenance.corpusHash).toBe(vectors.get("joy")!.provenance.corpusHash);
    expect(again.get("joy")!.directions.every((d, l) => d.every((x, i) => x === vectors.get("joy")!.directions[l]![i]))).toBe(true);
  });

  it('corpus "fixed-v2" teacher-forces corpus v2\'s texts (its own hash), by the same mean difference', async () => {
    const backend = new LinearBackend();
    const vectors = await extractEmotionVectors(backend, { corpus: "fixed-v2", emotions: ["sadness"], maxQueries: 2 });
    const items = loadContrastCorpus("fixed-v2").items;
    const picked = [items[0]!, items[Math.floor(items.length / 2)]!];
    const layer = steerable[1]!;
    const differences = picked.map((item) => {
      const context: ChatMessage[] = [{ role: "user", content: queryText(item.queryId) }];
      return sub(mean(responseResiduals(context, item.emotional.sadness, layer)), mean(responseResiduals(context, item.neutral, layer)));
    });
    const vector = vectors.get("sadness")!;
    expectClose(vector.directions[layer]!, mean(differences));
    expect(vector.provenance.corpus).toBe("fixed-v2");
    const v1 = await extractEmotionVectors(new LinearBackend(), { emotions: ["sadness"], maxQueries: 2 });
    expect(v1.get("sadness")!.provenance.corpusHash).not.toBe(vector.provenance.corpusHash);
  });

  it("last-token: the mean over queries of last(emotional) − last(neutral)", async () => {
    const vectors = await extractEmotionVectors(new LinearBackend(), { emotions: ["anger"], method: "last-token", maxQueries: 2 });
    const items = spreadItems(2);
    for (const layer of steerable) {
      const differences = items.map((item) => {
        const context: ChatMessage[] = [{ role: "user", content: queryText(item.queryId) }];
        return sub(
          responseResiduals(context, item.emotional.anger, layer).at(-1)!,
          responseResiduals(context, item.neutral, layer).at(-1)!,
        );
      });
      expectClose(vectors.get("anger")!.directions[layer]!, mean(differences));
    }
    expect(vectors.get("anger")!.provenance.settings).toEqual({ pooling: "last" });
  });

  it("pca and fisher run on the same captures and point the mean difference's way", async () => {
    const backend = new LinearBackend();
    const meanDiff = (await extractEmotionVectors(backend, { emotions: ["sadness"], maxQueries: 4 })).get("sadness")!;
    for (const method of ["pca", "fisher"] as const) {
      const vector = (await extractEmotionVectors(backend, { emotions: ["sadness"], maxQueries: 4, method })).get("sadness")!;
      expect(vector.provenance.method).toBe(method);
      for (const layer of steerable) expect(cosineSimilarity(vector.directions[layer]!, meanDiff.directions[layer]!)).toBeGreaterThan(0);
    }
  });
});

describe("extractEmotionVectors on self-written responses", () => {
  const queries = ["How do I boil an egg?", "What is rain?"];

  it("generates neutral and emotional answers greedily under the system prompts, then captures them after the query alone", async () => {
    const backend = new LinearBackend();
    const progress: ExtractionProgress[] = [];
    const vectors = await extractEmotionVectors(backend, {
      corpus: "self",
      emotions: ["joy", "sadness"],
      queries,
      onProgress: (p) => progress.push(p),
    });
    const prompts = loadSystemPrompts();
    // 2 queries × (neutral + 2 emotions), each generated once and captured once.
    expect(backend.generations).toHaveLength(6);
    expect(backend.generations.every((g) => g.options.temperature === 0 && g.options.maxTokens === 64)).toBe(true);
    expect(backend.generations.map((g) => g.messages[0]!.content)).toEqual(
      expect.arrayContaining([prompts.neutral, prompts.emotions.joy, prompts.emotions.sadness]),
    );
    expect(backend.captures).toHaveLength(6);
    expect(progress.map((p) => `${p.phase}:${p.done}/${p.total}`)).toEqual([
      ...[1, 2, 3, 4, 5, 6].map((n) => `generate:${n}/12`),
      ...[7, 8, 9, 10, 11, 12].map((n) => `capture:${n}/12`),
    ]);
    for (const request of backend.captures) expect(await backend.detokenize(request.tokens)).toMatch(/^<user>\n/);

    for (const emotion of ["joy", "sadness"]) {
      for (const layer of steerable) {
        const differences = queries.map((q) => {
          const context: ChatMessage[] = [{ role: "user", content: q }];
          const said = (mood: string) => `I feel ${mood} about ${q.slice(0, 10)}.`;
          return sub(mean(responseResiduals(context, said(emotion), layer)), mean(responseResiduals(context, said("calm"), layer)));
        });
        expectClose(vectors.get(emotion)!.directions[layer]!, mean(differences));
      }
      expect(vectors.get(emotion)!.provenance.corpus).toBe("self");
    }
  });

  it('context "system-prompt" keeps the system prompt in the captured context', async () => {
    const backend = new LinearBackend();
    await extractEmotionVectors(backend, {
      corpus: "self",
      emotions: ["fear"],
      queries: queries.slice(0, 1),
      context: "system-prompt",
      maxTokens: 5,
    });
    expect(backend.generations.every((g) => g.options.maxTokens === 5)).toBe(true);
    for (const request of backend.captures) {
      const text = await backend.detokenize(request.tokens);
      expect(text).toMatch(/^<system>\n/);
      expect(text.endsWith("<assistant>\nI fee")).toBe(true);
    }
  });

  it("user emotions: examples are teacher-forced; without examples the conditioning prompt is used", async () => {
    const backend = new LinearBackend();
    const examples = [
      { query: "What is a star?", neutral: "A ball of plasma.", emotional: "A star! A furnace of wonder." },
      { query: "How old is the sea?", neutral: "About four billion years.", emotional: "Four billion years, unimaginably vast." },
    ];
    const vectors = await extractEmotionVectors(backend, {
      corpus: {
        userEmotions: [
          { name: "awe", conditioningPrompt: "You are a helpful assistant who feels deep awe.", examples },
          { name: "nostalgia", conditioningPrompt: "You are a helpful assistant who feels deep nostalgia." },
        ],
      },
      queries,
    });
    expect([...vectors.keys()]).toEqual(["awe", "nostalgia"]);
    for (const layer of steerable) {
      const differences = examples.map((x) => {
        const context: ChatMessage[] = [{ role: "user", content: x.query }];
        return sub(mean(responseResiduals(context, x.emotional, layer)), mean(responseResiduals(context, x.neutral, layer)));
      });
      expectClose(vectors.get("awe")!.directions[layer]!, mean(differences));
    }
    expect(backend.generations.map((g) => g.messages[0]!.content)).toContain("You are a helpful assistant who feels deep nostalgia.");
    expect(vectors.get("nostalgia")!.provenance).toMatchObject({ corpus: "user", samples: 2 });
  });
});

describe("extractEmotionVectors capture order", () => {
  it("requests the texts of one query together (so an engine may batch them), query after query", async () => {
    let inFlight = 0;
    const concurrent: number[] = [];
    class SlowBackend extends LinearBackend {
      override async captureResiduals(request: CaptureRequest): Promise<ResidualCapture> {
        inFlight++;
        concurrent.push(inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        return super.captureResiduals(request);
      }
    }
    const backend = new SlowBackend();
    const together = await extractEmotionVectors(backend, { emotions: ["joy", "fear"], maxQueries: 2 });
    const prompts = backend.captures.map((c) => c.tokens.slice(0, c.spanStart).join());
    // Neutral, joy and fear of the first query, then of the second.
    expect(prompts.slice(0, 3).every((p) => p === prompts[0])).toBe(true);
    expect(prompts.slice(3).every((p) => p === prompts[3])).toBe(true);
    expect(prompts[3]).not.toBe(prompts[0]);
    expect(Math.max(...concurrent)).toBe(3);
    expect([...together.keys()]).toEqual(["joy", "fear"]);
  });
});

describe("captureResponse", () => {
  it("counts a token merged across the prompt/response boundary as response", async () => {
    const backend = new LinearBackend();
    const context: ChatMessage[] = [{ role: "user", content: "Hi" }];
    const promptLength = tokenize(formatChat(context, true)).length;
    await captureResponse(backend, context, "plain", { pooling: "mean" });
    await captureResponse(backend, context, "#heading", { pooling: "mean" });
    expect(backend.captures.map((c) => [c.spanStart, c.spanEnd])).toEqual([
      [promptLength, promptLength + 5],
      [promptLength - 1, promptLength - 1 + 8],
    ]);
    expect(await captureResponse(backend, context, "", { pooling: "mean" })).toBeNull();
  });
});

describe("extractEmotionVectors errors", () => {
  it("names what is wrong", async () => {
    await expect(extractEmotionVectors(new LinearBackend({ capture: false }))).rejects.toThrow(UnsupportedCapabilityError);
    await expect(extractEmotionVectors(new LinearBackend(), { emotions: ["awe"] })).rejects.toThrow(
      /No emotion vector for "awe"; available: joy, anger, disgust, fear, sadness/,
    );
    await expect(extractEmotionVectors(new LinearBackend(), { emotions: ["awe"] })).rejects.toThrow(UnknownEmotionError);
    await expect(extractEmotionVectors(new LinearBackend(), { queries: ["x"] })).rejects.toThrow(/fixed corpus has its own queries/);
    await expect(extractEmotionVectors(new LinearBackend(), { maxQueries: 0 })).rejects.toThrow(/maxQueries/);
  });

  it("stops on abort, before or during the work", async () => {
    const before = new AbortController();
    before.abort();
    const backend = new LinearBackend();
    await expect(extractEmotionVectors(backend, { signal: before.signal })).rejects.toThrow(AbortedError);
    expect(backend.captures).toHaveLength(0);
    const during = new AbortController();
    await expect(
      extractEmotionVectors(backend, { maxQueries: 3, signal: during.signal, onProgress: (p) => p.done === 2 && during.abort() }),
    ).rejects.toThrow(AbortedError);
    // The texts of one query are requested together (so an engine can batch them): the abort
    // stops the extraction before the next query's, after the six of the first.
    expect(backend.captures).toHaveLength(6);
  });
});
