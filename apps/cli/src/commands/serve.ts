import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readModelInfo } from "@emosteer/core/node";
import { startServer } from "@emosteer/server";
import type { Command } from "./command.js";
import { coreEmotionVectors, folderEmotionVectors } from "./emotion-vectors.js";
import { ENGINE_HELP, ENGINE_OPTIONS, modelFile, openEngine, parseEngineOptions } from "./engine-options.js";
import { parseInteger, parseNumber } from "./option-values.js";
import { UsageError } from "../usage-error.js";

const HELP = `Usage: emosteer serve [--model ID|FILE.gguf] [--backend NAME] [--vectors DIR] [--host ADDR] [--port N]
                      [--api-key KEY] [--parallel N] [--max-queue N] [--max-tokens N] [--max-alpha A]
                      [--body-limit BYTES] [--timeout SECONDS] [--receive-timeout SECONDS]
                      [--start-together N] [--no-playground]

Serves the model over an OpenAI-compatible HTTP API with per-request emotions: POST
/v1/chat/completions and /v1/completions (streamed or not) take "emotions": {"joy": 1.5} or the
explicit "steering" form (apps/server/schema/steering.schema.json); GET /v1/models, /health,
/metrics (Prometheus), and the playground at /. Without --vectors it serves the five core EVs,
from the cache or extracted on first start. SIGTERM or Ctrl-C drains in-flight requests, then exits.

${ENGINE_HELP}
  --vectors DIR         serve the vector files (*.gguf) in DIR instead, by the emotion each holds
  --host ADDR           address to listen on (default 127.0.0.1: this machine only); any other
                        address warns unless --api-key is set
  --port N              TCP port (default 8080; 0 picks a free one)
  --api-key KEY         require "Authorization: Bearer KEY" on /v1 and /metrics (default: none;
                        $EMOSTEER_API_KEY sets it too)
  --parallel N          requests generated at once, batched in one engine session with each its
                        own steering (default 4 on an engine with batched sessions; 1, one at a
                        time, on an engine without per-sequence steering)
  --max-queue N         requests that may wait for the engine; more get 429 (default 16)
  --max-tokens N        the largest max_tokens a request may ask for (default 512)
  --max-alpha A         the largest |α| per emotion (default 4)
  --body-limit BYTES    the largest request body (default 1048576)
  --timeout SECONDS     a generation request's limit, queue wait included; then 504 (default 120)
  --receive-timeout SECONDS  time a client has to send its whole request; then 408 (default 30)
  --start-together N    a deterministic schedule for cross-talk checks: requests start in groups of
                        N, in arrival order, each group decoding together (default: off)
  --no-playground       do not serve the playground page at /`;

export const serve: Command = {
  summary: "serve the model over an OpenAI-compatible API with per-request emotions, and a playground",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        ...ENGINE_OPTIONS,
        vectors: { type: "string" },
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "8080" },
        "api-key": { type: "string" },
        parallel: { type: "string" },
        "max-queue": { type: "string", default: "16" },
        "max-tokens": { type: "string", default: "512" },
        "max-alpha": { type: "string", default: "4" },
        "body-limit": { type: "string", default: String(1024 * 1024) },
        timeout: { type: "string", default: "120" },
        "receive-timeout": { type: "string", default: "30" },
        "start-together": { type: "string" },
        "no-playground": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const engine = parseEngineOptions(values);
    const port = parseInteger("port", values.port, 0, 65535);
    const maxQueue = parseInteger("max-queue", values["max-queue"], 0);
    const slots = values.parallel === undefined ? undefined : parseInteger("parallel", values.parallel, 1, 64);
    const startTogether =
      values["start-together"] === undefined ? undefined : parseInteger("start-together", values["start-together"], 1, 64);
    const maxTokens = parseInteger("max-tokens", values["max-tokens"], 1);
    const maxAlpha = parseNumber("max-alpha", values["max-alpha"], 0);
    const bodyLimit = parseInteger("body-limit", values["body-limit"], 1024);
    const timeoutMs = parseNumber("timeout", values.timeout, 0.001) * 1000;
    const receiveTimeoutMs = parseNumber("receive-timeout", values["receive-timeout"], 0.1) * 1000;
    const apiKey = values["api-key"] ?? process.env.EMOSTEER_API_KEY;
    if (apiKey !== undefined && apiKey.trim().length < 8) throw new UsageError("--api-key must have at least 8 characters");
    const host = values.host.trim();
    if (!host) throw new UsageError("--host must be an address, e.g. 127.0.0.1 or 0.0.0.0");

    const modelPath = await modelFile(engine);
    // A --vectors folder is checked against the model file before the engine loads, so a wrong file fails at once.
    const folderVectors =
      values.vectors === undefined ? undefined : await folderEmotionVectors(resolve(values.vectors), await readModelInfo(modelPath));
    await using backend = await openEngine(engine, modelPath);
    const vectors = folderVectors ?? (await coreEmotionVectors(backend, engine.vectorCache));
    const modelId = "id" in engine.model ? engine.model.id : basename(engine.model.path, ".gguf");

    const server = await startServer({
      backend,
      vectors,
      modelId,
      host,
      port,
      ...(slots !== undefined ? { slots } : {}),
      ...(startTogether !== undefined ? { startTogether } : {}),
      maxQueue,
      maxTokens,
      maxAlpha,
      bodyLimit,
      timeoutMs,
      receiveTimeoutMs,
      ...(apiKey !== undefined ? { apiKey } : {}),
      playground: !values["no-playground"],
    });
    console.log(
      `emosteer serve: ${modelId} on ${backend.name}, emotions ${[...vectors.keys()].join(", ")}, ${server.scheduler.options.slots} request(s) at once${server.session ? " (one batched session)" : ""}`,
    );
    console.log(`emosteer serve: listening on ${server.url} (playground: ${server.url}/, API: ${server.url}/v1)`);

    // The first SIGTERM or SIGINT drains: no new connections, every admitted request finishes. A second one exits at once.
    const signal = await new Promise<NodeJS.Signals>((resolveSignal) => {
      process.once("SIGTERM", () => resolveSignal("SIGTERM"));
      process.once("SIGINT", () => resolveSignal("SIGINT"));
    });
    const exitNow = () => process.exit(1);
    process.once("SIGTERM", exitNow);
    process.once("SIGINT", exitNow);
    const inFlight = server.scheduler.running + server.scheduler.queued;
    console.log(`emosteer serve: ${signal}: draining ${inFlight} request(s) in flight…`);
    await server.close();
    console.log("emosteer serve: drained; stopped.");
    return 0;
  },
};
