// Malformed and hostile requests, each with the status class and message the server must answer
// with. Shared by the hostile-input test (a few of each) and the benchmark (10,000).
import { connect } from "node:net";

export interface HostileCase {
  readonly name: string;
  /** Sends the request; resolves with the status and the parsed error message (or the raw body). */
  send(baseUrl: string, apiKey: string | undefined): Promise<{ status: number; message: string }>;
  /** What the answer's message must say. */
  readonly message: RegExp;
}

async function post(
  baseUrl: string,
  path: string,
  body: string,
  headers: Record<string, string>,
  apiKey: string | undefined,
): Promise<{ status: number; message: string }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...headers },
    body,
  });
  const text = await response.text();
  let message = text;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string; type?: string } };
    message = parsed.error?.message ?? text;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, message };
}

const chat = (extra: Record<string, unknown>) =>
  JSON.stringify({ model: "m", messages: [{ role: "user", content: "Hi" }], max_tokens: 4, temperature: 0, ...extra });

const json = (name: string, body: string, message: RegExp, path = "/v1/chat/completions"): HostileCase => ({
  name,
  message,
  send: (baseUrl, apiKey) => post(baseUrl, path, body, {}, apiKey),
});

/**
 * The cases; `bodyLimit` is the server's (a "huge body" is twice it), `receiveTimeoutMs` how long
 * the server lets a slow sender take (the slow client sends half its body and stalls).
 */
export function hostileCases(options: { bodyLimit: number; receiveTimeoutMs: number }): HostileCase[] {
  return [
    json("bad JSON", '{"messages": [', /not valid JSON/),
    json("NaN α", '{"messages":[{"role":"user","content":"Hi"}],"emotions":{"joy":NaN}}', /not valid JSON.*NaN/),
    json(
      "infinite α (1e999)",
      chat({ emotions: { joy: Number.POSITIVE_INFINITY } }).replace("null", "1e999"),
      /α must be a finite number|must be number/,
    ),
    json("huge α", chat({ emotions: { joy: 1e6 } }), /α must be a finite number from −4 to 4/),
    json("α as a string", chat({ emotions: { joy: "2" } }), /emotions\.joy must be number/),
    json("unknown emotion", chat({ emotions: { euphoria: 1 } }), /Unknown emotion "euphoria".*joy/),
    json("path-like emotion", chat({ emotions: { "../../etc/passwd": 1 } }), /not a vector name.*never a file/),
    json("path-like vector", chat({ steering: { terms: [{ vector: "/etc/passwd", alpha: 1 }] } }), /not a vector name.*never a file/),
    json("vector file name", chat({ steering: { terms: [{ vector: "joy.gguf", alpha: 1 }] } }), /not a vector name.*never a file/),
    json(
      "unknown steering field",
      chat({ steering: { terms: [{ vector: "joy", alpha: 1 }], file: "/tmp/x.gguf" } }),
      /unknown field "file"/,
    ),
    json(
      "inline vector of the wrong size",
      chat({ steering: { terms: [{ vector: { data: "AAAAAA==" }, alpha: 1 }] } }),
      /Inline vector data has 4 bytes/,
    ),
    json(
      "layer out of range",
      chat({ steering: { terms: [{ vector: "joy", alpha: 1 }], layers: { from: 1, to: 999 } } }),
      /Layer 999 cannot be steered/,
    ),
    json("messages not an array", JSON.stringify({ messages: "Hi" }), /messages must be array/),
    json("no messages", JSON.stringify({ model: "m" }), /needs the field "messages"/),
    json(
      "bad role",
      JSON.stringify({ messages: [{ role: "root", content: "Hi" }] }),
      /role must be one of: system, developer, user, assistant/,
    ),
    json("max_tokens as a string", chat({ max_tokens: "5" }), /max_tokens must be integer/),
    json("max_tokens above the limit", chat({ max_tokens: 100000 }), /max_tokens must be from 1 to \d+/),
    json("temperature out of range", chat({ temperature: 50 }), /temperature must be <= 2/),
    json("both emotions and steering", chat({ emotions: { joy: 1 }, steering: { terms: [{ vector: "joy", alpha: 1 }] } }), /not both/),
    json("prototype pollution", '{"messages":[{"role":"user","content":"Hi"}],"__proto__":{"admin":true}}', /not valid JSON|prototype/i),
    json("empty prompt", JSON.stringify({ prompt: "" }), /prompt/, "/v1/completions"),
    {
      name: "huge body",
      message: /larger than this server's limit/,
      send: (baseUrl, apiKey) =>
        post(
          baseUrl,
          "/v1/chat/completions",
          chat({ messages: [{ role: "user", content: "x".repeat(options.bodyLimit * 2) }] }),
          {},
          apiKey,
        ),
    },
    {
      name: "not JSON content type",
      message: /as JSON/,
      send: (baseUrl, apiKey) => post(baseUrl, "/v1/chat/completions", "hello", { "content-type": "text/plain" }, apiKey),
    },
    {
      name: "unknown route",
      message: /No route POST \/v1\/embeddings/,
      send: (baseUrl, apiKey) => post(baseUrl, "/v1/embeddings", "{}", {}, apiKey),
    },
    {
      name: "slow client",
      message: /408 Request Timeout/,
      send: (baseUrl, apiKey) => slowClient(baseUrl, apiKey, options.receiveTimeoutMs),
    },
  ];
}

/** Sends the headers and half the announced body, then stalls: the server must give up with a 408. */
function slowClient(baseUrl: string, apiKey: string | undefined, receiveTimeoutMs: number): Promise<{ status: number; message: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let answer = "";
    const giveUp = setTimeout(
      () => {
        socket.destroy();
        reject(new Error(`the server did not time out a stalled request within ${receiveTimeoutMs * 3} ms`));
      },
      receiveTimeoutMs * 3 + 2000,
    );
    socket.on("connect", () =>
      socket.write(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n${apiKey ? `Authorization: Bearer ${apiKey}\r\n` : ""}Content-Length: 100\r\n\r\n{"messages":`,
      ),
    );
    socket.on("data", (d) => (answer += d.toString()));
    socket.on("error", () => undefined); // the server may reset after its answer
    socket.on("close", () => {
      clearTimeout(giveUp);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      resolve({ status, message: answer.split("\r\n")[0] ?? "" });
    });
  });
}
