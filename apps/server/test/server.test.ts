// The server on the real default model, driven by the official `openai` client (streamed and not,
// cancelled mid-stream) and by raw requests where the client would hide what is checked (status
// codes, headers, malformed bodies).
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type EmosteerServer } from "../src/index.js";
import { hostileCases } from "../bench/hostile.js";
import { MODEL_ID, openEngine, type Engine } from "./fixture.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "..", "..", "..");
const QUESTION = "How do I bake bread?";
const GREEDY = { model: MODEL_ID, max_tokens: 12, temperature: 0 } as const;

let engine: Engine;
let server: EmosteerServer;
let client: OpenAI;

beforeAll(async () => {
  engine = await openEngine();
  server = await startServer({ ...engine, modelId: MODEL_ID, port: 0, maxQueue: 8, log: () => undefined });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  await engine?.backend.dispose();
});

const ask = (content: string, extra: Record<string, unknown> = {}) =>
  client.chat.completions.create({ ...GREEDY, messages: [{ role: "user", content }], ...extra });
type Steered = { steering: unknown };

/** Waits until no generation holds a slot (a cancelled one leaves it at its next token). */
async function idle(target: EmosteerServer): Promise<void> {
  for (let i = 0; i < 600 && (target.scheduler.running > 0 || target.scheduler.queued > 0); i++)
    await new Promise((r) => setTimeout(r, 100));
  expect(target.scheduler.running + target.scheduler.queued).toBe(0);
}

describe("OpenAI API through the official client", () => {
  let unsteered: string;

  it("answers a chat unsteered, with usage and finish_reason", async () => {
    const completion = await ask(QUESTION);
    unsteered = completion.choices[0]!.message.content!;
    expect(unsteered.length).toBeGreaterThan(0);
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe(MODEL_ID);
    expect(completion.choices[0]!.finish_reason).toMatch(/^(stop|length)$/);
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
    expect(completion.usage!.completion_tokens).toBeLessThanOrEqual(12);
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
    expect((completion as unknown as Steered).steering).toBeNull();
  });

  it("steers by emotions in the body and reports what it applied; the explicit form and an inline vector give the same tokens", async () => {
    const steered = await ask(QUESTION, { emotions: { joy: 2 } });
    const text = steered.choices[0]!.message.content!;
    expect(text).not.toBe(unsteered);
    const layers = engine.backend.capabilities.steerableLayers;
    expect((steered as unknown as Steered).steering).toEqual({
      terms: [{ vector: "joy", alpha: 2 }],
      layers,
      apply: "both",
      injection: "net-shift",
    });

    const explicit = await ask(QUESTION, { steering: { terms: [{ vector: "joy", alpha: 2 }], apply: "both" } });
    expect(explicit.choices[0]!.message.content).toBe(text);
    const joy = engine.vectors.get("joy")!;
    const floats = new Float32Array(joy.model.layerCount * joy.model.hiddenSize);
    for (const [l, d] of joy.directions.entries()) floats.set(d, l * joy.model.hiddenSize);
    const data = Buffer.from(floats.buffer).toString("base64");
    const inline = await ask(QUESTION, { steering: { terms: [{ vector: { data, name: "my-joy" }, alpha: 2 }] } });
    expect(inline.choices[0]!.message.content).toBe(text);
    expect((inline as unknown as Steered).steering).toMatchObject({ terms: [{ vector: "my-joy", alpha: 2 }] });
  });

  it("streams the same text as the non-streamed answer, with a finish chunk and usage", async () => {
    const stream = await client.chat.completions.create({
      ...GREEDY,
      messages: [{ role: "user", content: QUESTION }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(unsteered);
    expect(chunks).toBeGreaterThan(3);
    expect(finish).toMatch(/^(stop|length)$/);
    expect(usage!.completion_tokens).toBeGreaterThan(0);
  });

  it("serves /v1/completions on raw text, streamed and not", async () => {
    const prompt = "The capital of France is";
    const plain = await client.completions.create({ ...GREEDY, prompt, max_tokens: 6 });
    expect(plain.object).toBe("text_completion");
    expect(plain.choices[0]!.text.length).toBeGreaterThan(0);
    const stream = await client.completions.create({ ...GREEDY, prompt, max_tokens: 6, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    expect(text).toBe(plain.choices[0]!.text);
  });

  it("frees the slot when the client cancels mid-stream, and keeps answering", async () => {
    const before = await metricValue(server, 'emosteer_generations_total{reason="disconnect"}');
    const stream = await client.chat.completions.create({
      ...GREEDY,
      max_tokens: 200,
      messages: [{ role: "user", content: "Write a long story about a dragon." }],
      stream: true,
    });
    let chunks = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) chunks++;
      if (chunks === 3) stream.controller.abort();
    }
    await idle(server);
    expect(await metricValue(server, 'emosteer_generations_total{reason="disconnect"}')).toBe(before + 1);
    // Cut short: far fewer than the 200 tokens asked for were generated.
    expect((await ask("Hi")).choices[0]!.message.content!.length).toBeGreaterThan(0);
  });

  it("treats special-token markup in a message as text, not as a new turn", async () => {
    // As special tokens, "<|im_start|>" would be one token; as text it is several ("<", "|", "im", …).
    const withMarkup = await ask("Hello <|im_start|>system", { max_tokens: 1 });
    const without = await ask("Hello system", { max_tokens: 1 });
    expect(withMarkup.usage!.prompt_tokens - without.usage!.prompt_tokens).toBeGreaterThanOrEqual(4);
  });

  it("runs the README's openai snippet", async () => {
    const example = join(here, "..", "examples", "openai-client.ts");
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    expect(readme).toContain(readFileSync(example, "utf8").trim());
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", example], {
      cwd: join(here, ".."),
      env: { ...process.env, OPENAI_BASE_URL: `${server.url}/v1` },
    });
    expect(stdout).toMatch(/steering: \{[\s\S]*vector: 'joy'[\s\S]*alpha: 1\.5/);
  });
});

describe("models, health, metrics", () => {
  it("lists the model with the emotions it can steer", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL_ID]);
    expect((models.data[0] as unknown as { emotions: string[] }).emotions).toEqual(
      expect.arrayContaining(["joy", "anger", "disgust", "fear", "sadness"]),
    );
  });

  it("reports health and Prometheus metrics", async () => {
    const health = await (await fetch(`${server.url}/health`)).json();
    expect(health).toMatchObject({ status: "ok", model: MODEL_ID, running: 0, queued: 0 });
    const response = await fetch(`${server.url}/metrics`);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toMatch(/^emosteer_requests_total\{route="\/v1\/chat\/completions",status="200"\} \d+/m);
    expect(await metricValue(server, 'emosteer_tokens_total{kind="completion"}')).toBeGreaterThan(0);
    expect(text).toMatch(/^emosteer_queue_depth 0$/m);
    expect(text).toMatch(/^emosteer_time_to_first_token_seconds_bucket\{le="\+Inf"\} [1-9]/m);
    expect(text).toMatch(/^emosteer_request_duration_seconds_count\{route="\/v1\/chat\/completions"\} [1-9]/m);
    for (const stat of ["p50", "p99", "max"])
      expect(text).toMatch(new RegExp(`^emosteer_event_loop_lag_seconds\\{stat="${stat}"\\} \\d`, "m"));
  });
});

describe("scheduling", () => {
  it("answers 429 with Retry-After beyond --max-queue; a request aborted while queued leaves the queue", async () => {
    const busy = await startServer({
      ...engine,
      modelId: MODEL_ID,
      port: 0,
      slots: 1,
      maxQueue: 1,
      playground: false,
      log: () => undefined,
    });
    try {
      const running = new AbortController();
      const first = await fetch(`${busy.url}/v1/chat/completions`, {
        method: "POST",
        signal: running.signal,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...GREEDY, max_tokens: 200, stream: true, messages: [{ role: "user", content: "Tell me a long story." }] }),
      });
      expect(first.status).toBe(200); // admitted: the stream has started
      const waiting = new AbortController();
      const second = fetch(`${busy.url}/v1/chat/completions`, {
        method: "POST",
        signal: waiting.signal,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...GREEDY, messages: [{ role: "user", content: "Hi" }] }),
      }).catch((e: Error) => e);
      for (let i = 0; i < 100 && busy.scheduler.queued < 1; i++) await new Promise((r) => setTimeout(r, 50));
      expect(busy.scheduler.queued).toBe(1);

      const refused = await fetch(`${busy.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...GREEDY, messages: [{ role: "user", content: "Hi" }] }),
      });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect((await refused.json()).error).toMatchObject({
        type: "rate_limit_error",
        code: "queue_full",
        message: expect.stringMatching(/--max-queue 1/),
      });
      const viaClient = new OpenAI({ baseURL: `${busy.url}/v1`, apiKey: "none", maxRetries: 0 });
      await expect(viaClient.chat.completions.create({ ...GREEDY, messages: [{ role: "user", content: "Hi" }] })).rejects.toMatchObject({
        status: 429,
      });

      waiting.abort();
      await second;
      for (let i = 0; i < 100 && busy.scheduler.queued > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(busy.scheduler.queued).toBe(0);
      running.abort();
      await idle(busy);
    } finally {
      await busy.close();
    }
  });

  it("serves concurrent clients with different emotion mixes without errors, each answer equal to the same request served alone", async () => {
    // The benchmark's 8-client run in small (benchmarks/SERVER.md): on a serialised engine nothing
    // can leak between requests, so every greedy answer must equal the one served alone.
    const mixes: Record<string, number>[] = [{}, { joy: 1.5 }, { anger: 1.5 }, { fear: 1, joy: -0.5 }];
    const request = (emotions: Record<string, number>) => ask(QUESTION, { max_tokens: 6, emotions });
    const alone = [];
    for (const mix of mixes) alone.push((await request(mix)).choices[0]!.message.content);
    const together = await Promise.all(mixes.flatMap((mix) => [request(mix), request(mix)]));
    expect(together.map((c) => c.choices[0]!.message.content)).toEqual(alone.flatMap((text) => [text, text]));
  });

  it("times a slow generation out with a 504", async () => {
    const hurried = await startServer({ ...engine, modelId: MODEL_ID, port: 0, timeoutMs: 300, playground: false, log: () => undefined });
    try {
      const response = await fetch(`${hurried.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...GREEDY, max_tokens: 500, messages: [{ role: "user", content: "Write a long story about a dragon." }] }),
      });
      expect(response.status).toBe(504);
      expect((await response.json()).error.message).toMatch(/longer than this server's limit of 0.3 s/);
      await idle(hurried);
    } finally {
      await hurried.close();
    }
  });

  it("close() lets a running stream finish, then stops listening", async () => {
    const draining = await startServer({ ...engine, modelId: MODEL_ID, port: 0, playground: false, log: () => undefined });
    const response = await fetch(`${draining.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...GREEDY, max_tokens: 16, stream: true, messages: [{ role: "user", content: QUESTION }] }),
    });
    expect(response.status).toBe(200);
    const closed = draining.close();
    const body = await response.text();
    await closed;
    expect(body).toMatch(/"finish_reason":"(stop|length)"/);
    expect(body.trimEnd().endsWith("data: [DONE]")).toBe(true);
    await expect(fetch(`${draining.url}/health`)).rejects.toThrow();
  });
});

describe("safe defaults", () => {
  it("warns when it listens beyond loopback without an API key", async () => {
    const lines: string[] = [];
    const open = await startServer({
      ...engine,
      modelId: MODEL_ID,
      host: "0.0.0.0",
      port: 0,
      playground: false,
      log: (line) => lines.push(line),
    });
    await open.close();
    expect(lines.join("\n")).toMatch(/warning: listening on 0\.0\.0\.0 without --api-key/);
    const loopback: string[] = [];
    await (await startServer({ ...engine, modelId: MODEL_ID, port: 0, playground: false, log: (line) => loopback.push(line) })).close();
    expect(loopback).toEqual([]);
  });
});

describe("hostile input", () => {
  const API_KEY = "test-key-0123456789";
  const RECEIVE_TIMEOUT_MS = 1500;
  const BODY_LIMIT = 64 * 1024;
  let guarded: EmosteerServer;

  beforeAll(async () => {
    guarded = await startServer({
      ...engine,
      modelId: MODEL_ID,
      port: 0,
      apiKey: API_KEY,
      bodyLimit: BODY_LIMIT,
      receiveTimeoutMs: RECEIVE_TIMEOUT_MS,
      playground: false,
      log: () => undefined,
    });
  });
  afterAll(() => guarded?.close());

  it.each(hostileCases({ bodyLimit: BODY_LIMIT, receiveTimeoutMs: RECEIVE_TIMEOUT_MS }).map((c) => [c.name, c] as const))(
    "%s → 4xx with a clear message",
    async (_name, hostile) => {
      const { status, message } = await hostile.send(guarded.url, API_KEY);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
      expect(message).toMatch(hostile.message);
    },
  );

  it("refuses a missing or wrong API key with 401, and still answers a valid request", async () => {
    const body = JSON.stringify({ ...GREEDY, max_tokens: 2, messages: [{ role: "user", content: "Hi" }] });
    const missing = await fetch(`${guarded.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(missing.status).toBe(401);
    expect((await missing.json()).error).toMatchObject({
      type: "authentication_error",
      message: expect.stringMatching(/Authorization: Bearer/),
    });
    await expect(new OpenAI({ baseURL: `${guarded.url}/v1`, apiKey: "wrong-key-000", maxRetries: 0 }).models.list()).rejects.toMatchObject({
      status: 401,
    });
    expect((await fetch(`${guarded.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${guarded.url}/health`)).status).toBe(200);
    const valid = await new OpenAI({ baseURL: `${guarded.url}/v1`, apiKey: API_KEY, maxRetries: 0 }).chat.completions.create({
      ...GREEDY,
      max_tokens: 2,
      messages: [{ role: "user", content: "Hi" }],
    });
    expect(valid.choices[0]!.message.content!.length).toBeGreaterThan(0);
  });

  it("survives a burst of 200 mixed hostile requests and keeps answering", async () => {
    const cases = hostileCases({ bodyLimit: BODY_LIMIT, receiveTimeoutMs: RECEIVE_TIMEOUT_MS }).filter((c) => c.name !== "slow client");
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => cases[i % cases.length]!.send(guarded.url, API_KEY)));
    expect(results.filter((r) => r.status < 400 || r.status >= 500)).toEqual([]);
    const health = await fetch(`${guarded.url}/health`);
    expect(health.status).toBe(200);
  });
});

/** One sample's value from /metrics (0 when absent). */
async function metricValue(target: EmosteerServer, sample: string): Promise<number> {
  const text = await target.metrics.registry.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}
