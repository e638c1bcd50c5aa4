import { createHash, randomInt, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import {
  DisposedError,
  EmosteerError,
  offersSessions,
  type ChatMessage,
  type EmotionVector,
  type Generation,
  type GenerateOptions,
  type GenerationSession,
  type SteeringBackend,
} from "@emosteer/core";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { ApiError, invalidRequest } from "./api-error.js";
import { openEngineSession } from "./engine-session.js";
import { ServerMetrics } from "./metrics.js";
import { discardUnreadBody } from "./unread-body.js";
import { chatCompletion, finishReasonOf, streamChunk, textCompletion, usageChunk, type ResponseHead } from "./openai-shapes.js";
import { bundlePlayground, PLAYGROUND_HTML } from "./playground.js";
import { CHAT_REQUEST_SCHEMA, COMPLETION_REQUEST_SCHEMA } from "./request-schemas.js";
import { requestSteering, type SteeringRequest } from "./request-steering.js";
import { Scheduler, type AbortCause } from "./scheduler.js";

export interface ServerOptions {
  /** The engine that generates. The server owns no engine: whoever opened it disposes it after `close()`. */
  readonly backend: SteeringBackend;
  /** The named vectors requests may steer with (`"emotions": {"joy": 1.5}`), checked against the backend's model. */
  readonly vectors: ReadonlyMap<string, EmotionVector>;
  /** The model's id in `/v1/models` and in every response (e.g. "smollm2-135m-instruct"). */
  readonly modelId: string;
  /** Defaults to "127.0.0.1" (loopback only). */
  readonly host?: string;
  /** Defaults to 8080; 0 picks a free port. */
  readonly port?: number;
  /** When set, every /v1 and /metrics request needs `Authorization: Bearer <apiKey>`. Defaults to none. */
  readonly apiKey?: string;
  /** Generation requests that may wait for a slot; beyond them a 429 with Retry-After. Defaults to 16. */
  readonly maxQueue?: number;
  /**
   * Generations that run at once (`emosteer serve --parallel`). Above 1 the server opens one
   * batched engine session of this many sequences when the backend offers `createSession` (the
   * ONNX engine), each request with its own steering; a backend without sessions stays on one
   * slot (and the server says so). Defaults to 4 when the backend offers sessions, else 1.
   */
  readonly slots?: number;
  /**
   * Deterministic-schedule mode, for the cross-talk test and benchmarks: generation requests wait
   * until this many are queued, then enter the engine session together in arrival order (request i
   * in row i) before its first decode step. At most `slots` and `maxQueue`. Defaults to off.
   */
  readonly startTogether?: number;
  /** Largest max_tokens a request may ask for. Defaults to 512. */
  readonly maxTokens?: number;
  /** max_tokens when a request gives none. Defaults to min(128, maxTokens). */
  readonly defaultMaxTokens?: number;
  /** Largest |α| per term. Defaults to 4. */
  readonly maxAlpha?: number;
  /** Largest request body in bytes. Defaults to 1 MiB. */
  readonly bodyLimit?: number;
  /** A generation request's limit from arrival to its last token (ms); past it a 504. Defaults to 120 000. */
  readonly timeoutMs?: number;
  /** Time a client has to send a whole request (ms); slower clients get a 408. Defaults to 30 000. */
  readonly receiveTimeoutMs?: number;
  /** Serve the playground at `/`. Defaults to true. */
  readonly playground?: boolean;
  /** Where warnings and the start line go. Defaults to stderr. */
  readonly log?: (line: string) => void;
}

export interface EmosteerServer {
  /** e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly scheduler: Scheduler;
  readonly metrics: ServerMetrics;
  /** The batched engine session requests run through, when there is one (see `slots`); its `stats` count shared decode runs. */
  readonly session: GenerationSession | undefined;
  /**
   * Stops accepting connections, lets every admitted request (queued or running) finish, then
   * resolves. The engine stays open. Idempotent.
   */
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** Slots when the engine batches and `slots` is not given. */
const DEFAULT_BATCHED_SLOTS = 4;

/** Starts the HTTP server. See README.md ("Serve") for the endpoints and schema/steering.schema.json for steering. */
export async function startServer(options: ServerOptions): Promise<EmosteerServer> {
  const { backend, vectors, modelId } = options;
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const maxTokens = options.maxTokens ?? 512;
  const defaultMaxTokens = Math.min(options.defaultMaxTokens ?? 128, maxTokens);
  const maxAlpha = options.maxAlpha ?? 4;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const receiveTimeoutMs = options.receiveTimeoutMs ?? 30_000;
  const bodyLimit = options.bodyLimit ?? 1024 * 1024;
  for (const vector of vectors.values()) vector.assertCompatible(backend.model);
  if (!LOOPBACK.has(host) && !options.apiKey) {
    log(
      `emosteer serve: warning: listening on ${host} without --api-key; anyone who can reach this address can use the model. Pass --api-key KEY.`,
    );
  }

  // Default: 4 at once on an engine with batched sessions, else one at a time (more slots would only queue inside).
  const askedSlots = options.slots ?? (offersSessions(backend) ? DEFAULT_BATCHED_SLOTS : 1);
  const session = openEngineSession(backend, askedSlots);
  if (askedSlots > 1 && !session)
    log(
      `emosteer serve: note: the ${backend.name} engine has no batched sessions (no per-sequence steering), so it serves one request at a time; --parallel ${askedSlots} is ignored. Use --backend llama.cpp or onnx for batched serving.`,
    );
  const slots = session ? askedSlots : 1;
  const maxQueue = options.maxQueue ?? 16;
  const scheduler = new Scheduler({
    slots,
    maxQueue,
    ...(options.startTogether !== undefined ? { startTogether: Math.min(options.startTogether, slots) } : {}),
  });
  const metrics = new ServerMetrics(scheduler, session);
  const generate = session ? session.generate.bind(session) : backend.generate.bind(backend);
  const playground = options.playground === false ? undefined : await bundlePlayground();
  const keyDigest = options.apiKey ? sha256(options.apiKey) : undefined;
  const started = new WeakMap<IncomingMessage, number>();

  const app: FastifyInstance = Fastify({
    logger: false,
    bodyLimit,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    // Node's own timers catch slow senders: a request not received within receiveTimeoutMs gets a 408.
    serverFactory: (handler) => {
      const server = createServer(
        {
          requestTimeout: receiveTimeoutMs,
          headersTimeout: Math.min(receiveTimeoutMs, 60_000),
          connectionsCheckingInterval: Math.min(1000, receiveTimeoutMs),
        },
        handler,
      );
      return server;
    },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, strictNumbers: true } },
  });

  // JSON only: Fastify would otherwise hand a text/plain body to the schema as a string.
  app.removeContentTypeParser("text/plain");

  app.addHook("onRequest", async (request, reply) => {
    started.set(request.raw, performance.now());
    reply.raw.once("close", () => {
      const route = request.routeOptions.url ?? "unmatched";
      metrics.requests.inc({ route, status: String(reply.raw.statusCode) });
      metrics.requestSeconds.observe({ route }, (performance.now() - (started.get(request.raw) ?? performance.now())) / 1000);
    });
    const path = request.url.split("?")[0]!;
    if (keyDigest && (path.startsWith("/v1/") || path === "/metrics")) {
      const header = request.headers.authorization ?? "";
      const given = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
      if (!given || !timingSafeEqual(sha256(given), keyDigest)) {
        throw new ApiError(
          401,
          given
            ? "Invalid API key."
            : 'This server needs an API key: send the header "Authorization: Bearer <key>" (the key given to emosteer serve --api-key).',
          "authentication_error",
          null,
          "invalid_api_key",
        );
      }
    }
  });

  app.setErrorHandler(async (error, request, reply) => {
    const apiError = toApiError(error, { bodyLimit, receiveTimeoutMs });
    if (apiError.status >= 500) log(`emosteer serve: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    if (apiError.status === 413) {
      // The client may still be uploading: read the rest (up to a bound) so it gets this answer, then close.
      const whole = await discardUnreadBody(request.raw, Math.max(16 * bodyLimit, 64 * 1024 * 1024), receiveTimeoutMs);
      if (!whole) reply.header("connection", "close");
    }
    return reply.code(apiError.status).headers(apiError.headers).send(apiError.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError(
      404,
      `No route ${request.method} ${request.url.split("?")[0]}: the endpoints are POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, GET /metrics and GET / (the playground).`,
      "invalid_request_error",
      null,
      "not_found",
    );
    void reply.code(404).send(error.toJSON());
  });

  const models = () => ({
    object: "list",
    data: [
      {
        id: modelId,
        object: "model",
        created: 0,
        owned_by: "emosteer",
        // emosteer's own fields: what a request may steer with, and how far.
        backend: backend.name,
        emotions: [...vectors.keys()],
        max_alpha: maxAlpha,
        max_tokens: maxTokens,
        layers: { from: backend.capabilities.steerableLayers.from, to: backend.capabilities.steerableLayers.to },
      },
    ],
  });
  app.get("/v1/models", async () => models());
  app.get("/health", async (_request, reply) => {
    const body = {
      status: scheduler.isDraining ? "draining" : "ok",
      model: modelId,
      backend: backend.name,
      running: scheduler.running,
      queued: scheduler.queued,
    };
    return reply.code(scheduler.isDraining ? 503 : 200).send(body);
  });
  app.get("/metrics", async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  if (playground) {
    app.get("/", async (_request, reply) => reply.type("text/html; charset=utf-8").send(PLAYGROUND_HTML));
    app.get("/playground.js", async (_request, reply) => reply.type("text/javascript; charset=utf-8").send(playground));
  }

  /** What both generation routes share: validation → steering → scheduling → the engine → JSON or SSE. */
  const serveGeneration = async (
    kind: "chat" | "text",
    request: FastifyRequest,
    reply: FastifyReply,
    body: GenerationBody,
    prompt: string | readonly ChatMessage[],
  ) => {
    const arrived = started.get(request.raw) ?? performance.now();
    const { spec, applied } = requestSteering(body, vectors, backend.model, { maxAlpha, maxTerms: 16 });
    const generateOptions = samplingOptions(body, { maxTokens, defaultMaxTokens });
    const head: ResponseHead = {
      id: `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID()}`,
      created: Math.floor(Date.now() / 1000),
      model: modelId,
      steering: applied,
    };
    const stream = body.stream === true;
    const includeUsage = body.stream_options?.include_usage === true;

    const controller = new AbortController();
    const abort = (cause: AbortCause) => !controller.signal.aborted && controller.abort(cause);
    const timer = setTimeout(() => abort("timeout"), timeoutMs);
    // The client went away (closed the socket, or the stream) before the answer was complete.
    reply.raw.once("close", () => !reply.raw.writableEnded && abort("disconnect"));
    const send = (data: unknown) => reply.raw.write(`data: ${JSON.stringify(data)}\n\n`);
    let firstToken = true;
    let admitted: Promise<Generation>;
    try {
      admitted = scheduler.run(async () => {
        metrics.queueSeconds.observe((performance.now() - arrived) / 1000);
        return generate(prompt, {
          ...generateOptions,
          steering: spec,
          signal: controller.signal,
          onToken: ({ text }) => {
            if (firstToken) {
              firstToken = false;
              metrics.firstTokenSeconds.observe((performance.now() - arrived) / 1000);
            }
            if (stream && text) send(streamChunk(kind, head, { text }));
          },
        });
      }, controller.signal);
    } catch (error) {
      clearTimeout(timer);
      throw error; // a 429 or 503 before anything was sent
    }
    if (stream) {
      // Admitted: the stream starts now, so a client sees its request accepted while it waits.
      reply.hijack();
      reply.raw.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      send(streamChunk(kind, head, { role: true, text: "", steering: true }));
    }
    let generation: Generation;
    try {
      generation = await admitted;
    } catch (error) {
      clearTimeout(timer);
      const cause = controller.signal.aborted ? (controller.signal.reason as AbortCause) : undefined;
      metrics.generations.inc({ reason: cause ?? "error" });
      if (cause === "disconnect") return hangUp(reply, stream);
      const apiError = cause === "timeout" ? timeoutError(timeoutMs) : toApiError(error, { bodyLimit, receiveTimeoutMs });
      if (!stream) throw apiError;
      send(apiError.toJSON());
      return reply.raw.end("data: [DONE]\n\n");
    }
    clearTimeout(timer);
    const cause = generation.finishReason === "abort" ? ((controller.signal.reason as AbortCause | undefined) ?? "disconnect") : undefined;
    metrics.generations.inc({ reason: cause ?? generation.finishReason });
    metrics.tokens.inc({ kind: "prompt" }, generation.timings.promptTokens);
    metrics.tokens.inc({ kind: "completion" }, generation.timings.generatedTokens);
    if (cause === "disconnect") return hangUp(reply, stream);
    if (!stream) {
      if (cause === "timeout") throw timeoutError(timeoutMs);
      return reply.send(kind === "chat" ? chatCompletion(head, generation) : textCompletion(head, generation));
    }
    if (cause === "timeout") send(timeoutError(timeoutMs).toJSON());
    else send(streamChunk(kind, head, { finish: finishReasonOf(generation) }));
    if (includeUsage) send(usageChunk(kind, head, generation));
    reply.raw.end("data: [DONE]\n\n");
  };

  app.post("/v1/chat/completions", { schema: { body: CHAT_REQUEST_SCHEMA } }, async (request, reply) => {
    const body = request.body as ChatBody;
    return serveGeneration("chat", request, reply, body, chatMessages(body.messages));
  });
  app.post("/v1/completions", { schema: { body: COMPLETION_REQUEST_SCHEMA } }, async (request, reply) => {
    const body = request.body as CompletionBody;
    return serveGeneration("text", request, reply, body, typeof body.prompt === "string" ? body.prompt : body.prompt[0]!);
  });

  await app.listen({ host, port: options.port ?? 8080 });
  const address = app.server.address() as AddressInfo;
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    scheduler,
    metrics,
    session,
    close: () =>
      (closing ??= (async () => {
        const drained = scheduler.drain();
        await app.close();
        await drained;
        await session?.dispose();
      })()),
  };
}

interface GenerationBody extends SteeringRequest {
  readonly max_tokens?: number | null;
  readonly max_completion_tokens?: number | null;
  readonly temperature?: number | null;
  readonly top_p?: number | null;
  readonly top_k?: number | null;
  readonly seed?: number | null;
  readonly stop?: string | readonly string[] | null;
  readonly stream?: boolean | null;
  readonly stream_options?: { readonly include_usage?: boolean } | null;
}

interface ChatBody extends GenerationBody {
  readonly messages: readonly {
    readonly role: "system" | "developer" | "user" | "assistant";
    readonly content: string | readonly { readonly text: string }[];
  }[];
}

interface CompletionBody extends GenerationBody {
  readonly prompt: string | readonly string[];
}

/** OpenAI messages → the engine's: "developer" is a system turn, text parts are joined. Contents stay text (the engine tokenizes them without special tokens). */
function chatMessages(messages: ChatBody["messages"]): ChatMessage[] {
  return messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join(""),
  }));
}

/** OpenAI's sampling fields → the engine's, within the server's limits. A request without a seed gets a random one, as OpenAI's do. */
function samplingOptions(
  body: GenerationBody,
  limits: { maxTokens: number; defaultMaxTokens: number },
): Omit<GenerateOptions, "steering" | "signal" | "onToken"> {
  const param = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
  const requested = body.max_completion_tokens ?? body.max_tokens ?? limits.defaultMaxTokens;
  if (requested > limits.maxTokens)
    throw invalidRequest(
      param,
      `${param} must be from 1 to ${limits.maxTokens} on this server (emosteer serve --max-tokens); got ${requested}.`,
      "max_tokens_exceeded",
    );
  const stop = body.stop == null ? [] : typeof body.stop === "string" ? [body.stop] : [...body.stop];
  return {
    maxTokens: requested,
    temperature: body.temperature ?? 1,
    ...(body.top_p != null ? { topP: body.top_p } : {}),
    ...(body.top_k != null ? { topK: body.top_k } : {}),
    seed: body.seed ?? randomInt(2 ** 32),
    stop: stop.filter((s) => s.length > 0),
  };
}

/** The client is gone: nothing to answer. Hijacked first, so Fastify does not try to send a reply of its own. */
function hangUp(reply: FastifyReply, hijacked: boolean): void {
  if (!hijacked) reply.hijack();
  reply.raw.destroy();
}

function timeoutError(timeoutMs: number): ApiError {
  return new ApiError(
    504,
    `The request took longer than this server's limit of ${timeoutMs / 1000} s (emosteer serve --timeout): ask for fewer max_tokens, or retry when the queue is shorter.`,
    "timeout_error",
    null,
    "timeout",
  );
}

/** Any error → the OpenAI error shape: ours as they are, Fastify's and the engine's with a message that says what to change. */
function toApiError(error: unknown, limits: { bodyLimit: number; receiveTimeoutMs: number }): ApiError {
  if (error instanceof ApiError) return error;
  const fastifyError = error as Partial<FastifyError> & { validation?: ValidationIssue[] };
  if (fastifyError.validation) return validationError(fastifyError.validation);
  switch (fastifyError.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiError(
        413,
        `The request body is larger than this server's limit of ${limits.bodyLimit} bytes (emosteer serve --body-limit).`,
        "invalid_request_error",
        null,
        "body_too_large",
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ApiError(
        415,
        `Send the request body as JSON with "Content-Type: application/json".`,
        "invalid_request_error",
        null,
        "unsupported_media_type",
      );
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return invalidRequest(null, "The request body is empty: send a JSON object.", "invalid_json");
  }
  if (error instanceof SyntaxError || fastifyError.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
    return invalidRequest(
      null,
      `The request body is not valid JSON (${(error as Error).message}). Note that JSON has no NaN or Infinity: α must be a finite number.`,
      "invalid_json",
    );
  }
  if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new ApiError(fastifyError.statusCode, fastifyError.message ?? "Bad request.", "invalid_request_error");
  }
  if (error instanceof DisposedError)
    return new ApiError(503, "The model is shutting down; retry later.", "server_error", null, "shutting_down");
  // The engine refuses bad input with RangeError (a prompt longer than the context, say) and named errors.
  if (error instanceof RangeError || error instanceof EmosteerError) return invalidRequest(null, error.message);
  return new ApiError(500, `Internal error: ${error instanceof Error ? error.message : String(error)}`, "server_error");
}

interface ValidationIssue {
  readonly instancePath: string;
  readonly keyword: string;
  readonly message?: string;
  readonly params: Record<string, unknown>;
}

/** Ajv's first complaint → "messages[0].role must be one of: system, developer, user, assistant". */
function validationError(issues: readonly ValidationIssue[]): ApiError {
  const issue = issues[0]!;
  const param =
    issue.instancePath
      .replace(/^\//, "")
      .replace(/\/(\d+)(?=\/|$)/g, "[$1]")
      .replace(/\//g, ".") || null;
  const where = param ?? "the body";
  let message: string;
  if (issue.keyword === "enum") message = `${where} must be one of: ${(issue.params.allowedValues as unknown[]).map(String).join(", ")}`;
  else if (issue.keyword === "required") message = `${where} needs the field "${String(issue.params.missingProperty)}"`;
  else if (issue.keyword === "additionalProperties")
    message = `${where} has an unknown field "${String(issue.params.additionalProperty)}"; see the steering schema (schema/steering.schema.json)`;
  else if (issue.keyword === "oneOf" || issue.keyword === "anyOf")
    message = `${where} has the wrong form; see the API reference (README "Serve") and schema/steering.schema.json`;
  else message = `${where} ${issue.message ?? "is invalid"}`;
  return invalidRequest(param, `${message}.`, "invalid_value");
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
