// The server benchmark (not a test): the real `emosteer serve` as a child process, driven over
// HTTP. 1, 4 and 8 concurrent clients, each with its own emotion mix, stream greedy answers (TTFT,
// aggregate tok/s, errors, and how many answers equal the same request served alone); then 10,000
// malformed or hostile requests (each must be a 4xx; the server's RSS before and after); then a
// SIGTERM while a stream is in flight (it must finish, and the server exit 0).
// Writes benchmarks/SERVER.md and benchmarks/server.json.
//
//   pnpm --filter @emosteer/server bench [-- --requests 200 --requests-few 200 --hostile 10000 --max-tokens 32 --backend llama.cpp]
//   pnpm --filter @emosteer/server bench -- --backend onnx --parallel 4 --clients 4,8 --requests 40 --requests-few 40 --max-tokens 12
//     (--parallel: the client rows only, on `serve --parallel N`, kept beside the one-slot rows as parallel_N)
//   pnpm --filter @emosteer/server bench -- --backend onnx --crosstalk 8 --requests 200 --max-tokens 12
//     (the deterministic-schedule cross-talk run, kept as crosstalk_N)
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeFileAtomic } from "@emosteer/core/node";
import { hostileCases } from "./hostile.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "..", "..", "..");
// pnpm passes the "--" of `pnpm bench -- …` through; it separates nothing here.
const ARGV = process.argv.slice(2).filter((a, i) => !(i === 0 && a === "--"));
const { values } = parseArgs({
  args: ARGV,
  options: {
    requests: { type: "string", default: "200" },
    "requests-few": { type: "string", default: "200" },
    hostile: { type: "string", default: "10000" },
    "max-tokens": { type: "string", default: "32" },
    backend: { type: "string", default: "llama.cpp" },
    out: { type: "string", default: join(repoRoot, "benchmarks") },
    /** Rerun only the hostile and drain parts, keeping the client rows of the server.json already in --out. */
    "hostile-only": { type: "boolean", default: false },
    /** Serve with `--parallel N` (batched engine session) and run only the client rows, stored as parallel_N beside the rest of server.json. */
    parallel: { type: "string" },
    /** Client counts of the client rows (with --parallel). */
    clients: { type: "string", default: "1,4,8" },
    /**
     * Deterministic-schedule cross-talk on `serve --parallel N --start-together N`: --requests requests in groups of N,
     * each group run three times (as assigned, odd rows' mixes changed, even rows' changed); stored as crosstalk_N.
     */
    crosstalk: { type: "string" },
    /** With --parallel: stored as parallel_N_<tag> (e.g. a run of the code before a change, kept beside the run after it). */
    tag: { type: "string" },
    /** Rewrite SERVER.md from the server.json in --out, running nothing. */
    "render-only": { type: "boolean", default: false },
  },
});
/** Requests in the 8-client row (the issue's target), and in the 1- and 4-client rows. */
const REQUESTS = Number(values.requests);
const REQUESTS_FEW = Number(values["requests-few"]);
const HOSTILE = Number(values.hostile);
const MAX_TOKENS = Number(values["max-tokens"]);
const CROSSTALK = values.crosstalk === undefined ? undefined : Number(values.crosstalk);
const PARALLEL = CROSSTALK ?? (values.parallel === undefined ? undefined : Number(values.parallel));
const CLIENT_COUNTS = PARALLEL === undefined ? [1, 4, 8] : values.clients!.split(",").map(Number);
/** The batched and cross-talk sections of another engine than ONNX (the one-slot rows' engine) are stored apart, e.g. parallel_4_llama_cpp. */
const KEY_SUFFIX = [values.backend === "onnx" ? "" : values.backend!, values.tag ?? ""]
  .filter(Boolean)
  .map((part) => `_${part.replace(/[^a-z0-9]+/gi, "_")}`)
  .join("");
const RECEIVE_TIMEOUT_S = 2;
const BODY_LIMIT = 1024 * 1024;
const MIXES: readonly Record<string, number>[] = [
  {},
  { joy: 1.5 },
  { anger: 1.5 },
  { fear: 1, joy: -0.5 },
  { sadness: 2 },
  { disgust: 1 },
  { joy: 0.5, sadness: 0.5 },
  { anger: -1, fear: 0.5 },
];
const QUESTIONS = [
  "How do I bake bread?",
  "I start a new job on Monday. Any advice for my first week?",
  "What should I pack for a weekend hike?",
  "Can you explain how rain forms?",
  "My friend forgot my birthday. What should I do?",
  "What is a good way to learn a new language?",
  "Describe your ideal weekend.",
  "How do I fix a flat bicycle tyre?",
];
const log = (line: string) => process.stderr.write(`[server-bench] ${line}\n`);

interface Answer {
  readonly ok: boolean;
  readonly ttftMs: number;
  readonly tokens: number;
  readonly text: string;
  readonly error?: string;
}

async function main(): Promise<void> {
  if (values["render-only"]) {
    const stored = JSON.parse(readFileSync(join(values.out!, "server.json"), "utf8"));
    await writeFileAtomic(join(values.out!, "SERVER.md"), report(stored));
    log(`wrote ${join(values.out!, "SERVER.md")} from server.json`);
    return;
  }
  const { child, url } = await startServe();
  const results: Record<string, unknown> = {
    command: `pnpm --filter @emosteer/server bench -- ${commandLine()}`,
    backend: values.backend,
    model: "smollm2-135m-instruct",
    max_tokens: MAX_TOKENS,
    requests_8_clients: REQUESTS,
    requests_1_and_4_clients: REQUESTS_FEW,
    date: new Date().toISOString(),
  };
  try {
    if (CROSSTALK !== undefined) {
      const previous = JSON.parse(readFileSync(join(values.out!, "server.json"), "utf8"));
      previous[`crosstalk_${CROSSTALK}${KEY_SUFFIX}`] = {
        command: results.command,
        date: results.date,
        backend: values.backend,
        max_tokens: MAX_TOKENS,
        ...(await crosstalkRun(url, CROSSTALK)),
      };
      log(JSON.stringify(previous[`crosstalk_${CROSSTALK}${KEY_SUFFIX}`]));
      child.kill("SIGTERM");
      await writeFileAtomic(join(values.out!, "server.json"), `${JSON.stringify(previous, null, 2)}\n`);
      await writeFileAtomic(join(values.out!, "SERVER.md"), report(previous));
      log(`wrote crosstalk_${CROSSTALK}${KEY_SUFFIX} into ${join(values.out!, "server.json")} and SERVER.md`);
      return;
    }
    if (values["hostile-only"]) {
      const previous = JSON.parse(readFileSync(join(values.out!, "server.json"), "utf8"));
      for (const key of Object.keys(previous))
        if (/^(clients_|client_rows_|requests_|parallel_|crosstalk_)/.test(key)) results[key] = previous[key];
      results.client_rows_command ??= previous.command;
      results.client_rows_date ??= previous.date;
    }
    for (let i = 0; i < 2 && !values["hostile-only"]; i++) await streamChat(url, QUESTIONS[0]!, {});
    // Each (question, mix) answered alone first: greedy answers that the concurrent runs compare with.
    const alone = new Map<string, string>();
    if (!values["hostile-only"]) {
      log(`references: ${QUESTIONS.length} questions × ${MIXES.length} mixes served alone`);
      for (const [q, question] of QUESTIONS.entries())
        for (const [m, mix] of MIXES.entries()) alone.set(`${q}/${m}`, (await streamChat(url, question, mix)).text);
    }

    if (!values["hostile-only"]) {
      // The lag of an idle server (the gauges time whole 10 ms timer intervals), beside the rows'.
      await eventLoopLag(url);
      await sleep(3000);
      results.event_loop_lag_idle = await eventLoopLag(url);
    }
    for (const clients of values["hostile-only"] ? [] : CLIENT_COUNTS) {
      const total = clients === 8 ? REQUESTS : REQUESTS_FEW;
      log(`${clients} client(s), ${total} requests`);
      const answers: { answer: Answer; key: string }[] = [];
      let next = 0;
      await eventLoopLag(url); // resets the server's histogram: the row's figures are the row's own
      const loadBefore = loadavg()[0]!;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          for (let j = next++; j < total; j = next++) {
            // Client c always steers with mix c (8 clients: 8 different mixes side by side).
            const q = j % QUESTIONS.length;
            const m = clients === 1 ? j % MIXES.length : c % MIXES.length;
            answers.push({ answer: await streamChat(url, QUESTIONS[q]!, MIXES[m]!), key: `${q}/${m}` });
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const lag = await eventLoopLag(url);
      const ok = answers.filter((a) => a.answer.ok);
      const ttft = ok.map((a) => a.answer.ttftMs).sort((a, b) => a - b);
      const tokens = ok.reduce((n, a) => n + a.answer.tokens, 0);
      const equalAlone = ok.filter((a) => a.answer.text === alone.get(a.key)).length;
      results[`clients_${clients}`] = {
        requests: answers.length,
        errors: answers.length - ok.length,
        ttft_p50_ms: round(quantile(ttft, 0.5)),
        ttft_p95_ms: round(quantile(ttft, 0.95)),
        tok_s: round(tokens / seconds),
        seconds: round(seconds),
        completion_tokens: tokens,
        equal_alone: equalAlone,
        // On a serialised engine every request runs alone, so an answer that differs from the same request served alone is the only cross-talk there can be.
        crosstalk: ok.length - equalAlone,
        error_samples: [...new Set(answers.filter((a) => !a.answer.ok).map((a) => a.answer.error))].slice(0, 3),
        ...lag,
        load_avg_1m: [round(loadBefore, 2), round(loadavg()[0]!, 2)],
      };
      log(JSON.stringify(results[`clients_${clients}`]));
    }

    if (PARALLEL !== undefined) {
      // Batched rows go beside the one-slot rows (and the hostile and drain sections) already in --out.
      const previous = JSON.parse(readFileSync(join(values.out!, "server.json"), "utf8"));
      const rows = Object.fromEntries(Object.entries(results).filter(([k]) => k.startsWith("clients_")));
      previous[`parallel_${PARALLEL}${KEY_SUFFIX}`] = {
        command: results.command,
        date: results.date,
        backend: values.backend,
        parallel: PARALLEL,
        ...(values.tag ? { tag: values.tag } : {}),
        max_tokens: MAX_TOKENS,
        requests_8_clients: REQUESTS,
        requests_fewer_clients: REQUESTS_FEW,
        event_loop_lag_idle: results.event_loop_lag_idle,
        ...rows,
      };
      child.kill("SIGTERM");
      await writeFileAtomic(join(values.out!, "server.json"), `${JSON.stringify(previous, null, 2)}\n`);
      await writeFileAtomic(join(values.out!, "SERVER.md"), report(previous));
      log(`wrote parallel_${PARALLEL}${KEY_SUFFIX} into ${join(values.out!, "server.json")} and SERVER.md`);
      return;
    }
    results.hostile = await hostileRun(url, child.pid!);
    log(JSON.stringify(results.hostile));
    results.drain = await drainRun(url, child);
    log(JSON.stringify(results.drain));
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  await writeFileAtomic(join(values.out!, "server.json"), `${JSON.stringify(results, null, 2)}\n`);
  await writeFileAtomic(join(values.out!, "SERVER.md"), report(results));
  log(`wrote ${join(values.out!, "SERVER.md")} and server.json`);
}

/** `emosteer serve` on a free port, as a user would start it (plus the bench's queue and receive limits). */
async function startServe(): Promise<{ child: ChildProcess; url: string }> {
  const args = [
    "--conditions=@emosteer/source",
    "--import",
    "tsx",
    join(repoRoot, "apps", "cli", "src", "main.ts"),
    "serve",
    "--port",
    "0",
    "--backend",
    values.backend!,
    "--max-queue",
    "64",
    "--receive-timeout",
    String(RECEIVE_TIMEOUT_S),
    "--body-limit",
    String(BODY_LIMIT),
    // The one-slot rows say --parallel 1 outright: the server's default batches on engines with sessions.
    "--parallel",
    String(PARALLEL ?? 1),
    ...(CROSSTALK !== undefined ? ["--start-together", String(CROSSTALK)] : []),
  ];
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      process.stderr.write(d);
      const match = /listening on (http:\/\/\S+?) /.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on("exit", (code) => reject(new Error(`emosteer serve exited with ${code} before listening`)));
  });
  return { child, url };
}

/** A gauge or counter of the server's /metrics. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

/**
 * The server's event-loop delay since the previous scrape (its emosteer_event_loop_lag_seconds
 * gauges reset at each scrape), in ms.
 */
async function eventLoopLag(
  url: string,
): Promise<{ event_loop_lag_p50_ms: number; event_loop_lag_p99_ms: number; event_loop_lag_max_ms: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const stat = (name: string) => {
    const match = new RegExp(`^emosteer_event_loop_lag_seconds\\{stat="${name}"\\} (\\S+)$`, "m").exec(text);
    return match ? round(Number(match[1]) * 1000) : Number.NaN;
  };
  return { event_loop_lag_p50_ms: stat("p50"), event_loop_lag_p99_ms: stat("p99"), event_loop_lag_max_ms: stat("max") };
}

/**
 * One group of the deterministic schedule: request i (questions[i], mixes[i]) is sent once the
 * one before it waits in the queue, so the group enters the engine session in arrival order.
 */
async function crosstalkGroup(url: string, questions: readonly string[], mixes: readonly Record<string, number>[]) {
  const answers: Promise<Answer>[] = [];
  for (const [i, mix] of mixes.entries()) {
    answers.push(streamChat(url, questions[i]!, mix));
    if (i === mixes.length - 1) break;
    for (let t = 0; t < 400 && (await metric(url, "emosteer_queue_depth")) < i + 1; t++) await sleep(10);
  }
  return Promise.all(answers);
}

/**
 * Issue 14's cross-talk target: `requests` greedy requests in groups of `slots` on the batched
 * path, each group three times: as assigned, with the odd rows' mixes changed, with the even rows'
 * changed. A kept row must give the same tokens whatever its neighbours steer with.
 */
async function crosstalkRun(url: string, slots: number) {
  const groups = Math.ceil(REQUESTS / slots);
  let compared = 0;
  let crosstalk = 0;
  let errors = 0;
  let neighboursMoved = 0;
  const samples: string[] = [];
  const decodeBefore = await metric(url, "emosteer_decode_runs");
  const sharedBefore = await metric(url, "emosteer_shared_decode_runs");
  const started = performance.now();
  for (let g = 0; g < groups; g++) {
    const questions = Array.from({ length: slots }, (_, i) => QUESTIONS[(g * slots + i) % QUESTIONS.length]!);
    const assigned = Array.from({ length: slots }, (_, i) => MIXES[(i + g) % MIXES.length]!);
    const changed = Array.from({ length: slots }, (_, i) => MIXES[(i + g + 3) % MIXES.length]!);
    const a = await crosstalkGroup(url, questions, assigned);
    const oddChanged = await crosstalkGroup(
      url,
      questions,
      assigned.map((m, i) => (i % 2 === 1 ? changed[i]! : m)),
    );
    const evenChanged = await crosstalkGroup(
      url,
      questions,
      assigned.map((m, i) => (i % 2 === 0 ? changed[i]! : m)),
    );
    for (let i = 0; i < slots; i++) {
      const kept = i % 2 === 0 ? oddChanged[i]! : evenChanged[i]!;
      const moved = i % 2 === 0 ? evenChanged[i]! : oddChanged[i]!;
      for (const x of [a[i]!, kept, moved]) if (!x.ok) errors++;
      if (!a[i]!.ok || !kept.ok) continue;
      compared++;
      if (kept.text !== a[i]!.text) {
        crosstalk++;
        if (samples.length < 3) samples.push(`group ${g} row ${i}: ${JSON.stringify(a[i]!.text)} → ${JSON.stringify(kept.text)}`);
      }
      if (moved.ok && moved.text !== a[i]!.text) neighboursMoved++;
    }
    log(`cross-talk group ${g + 1}/${groups}: ${crosstalk} of ${compared} kept rows changed so far`);
  }
  const decodeRuns = (await metric(url, "emosteer_decode_runs")) - decodeBefore;
  const sharedRuns = (await metric(url, "emosteer_shared_decode_runs")) - sharedBefore;
  return {
    slots,
    requests: groups * slots * 3,
    compared_rows: compared,
    errors,
    crosstalk,
    neighbours_changed_answers: neighboursMoved,
    decode_runs: decodeRuns,
    shared_decode_runs: sharedRuns,
    max_sequences_in_one_run: await metric(url, "emosteer_max_sequences_per_decode_run"),
    seconds: round((performance.now() - started) / 1000),
    samples,
  };
}

async function streamChat(url: string, question: string, emotions: Record<string, number>): Promise<Answer> {
  const started = performance.now();
  try {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        messages: [{ role: "user", content: question }],
        max_tokens: MAX_TOKENS,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
        ...(Object.keys(emotions).length ? { emotions } : {}),
      }),
    });
    if (!response.ok)
      return { ok: false, ttftMs: 0, tokens: 0, text: "", error: `${response.status} ${(await response.text()).slice(0, 200)}` };
    let buffer = "";
    let text = "";
    let tokens = 0;
    let ttftMs = 0;
    const decoder = new TextDecoder();
    const reader = response.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
        const data = buffer.slice(0, end).replace(/^data: /, "");
        buffer = buffer.slice(end + 2);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) return { ok: false, ttftMs, tokens, text, error: chunk.error.message };
        const content = chunk.choices?.[0]?.delta?.content;
        if (content) {
          if (!ttftMs) ttftMs = performance.now() - started;
          text += content;
        }
        if (chunk.usage) tokens = chunk.usage.completion_tokens;
      }
    }
    return { ok: true, ttftMs, tokens, text };
  } catch (error) {
    return { ok: false, ttftMs: 0, tokens: 0, text: "", error: (error as Error).message };
  }
}

/** The hostile run: warm-up, RSS, HOSTILE requests 16 at a time, RSS again (after a short idle), then a valid request. */
async function hostileRun(url: string, pid: number) {
  const cases = hostileCases({ bodyLimit: BODY_LIMIT, receiveTimeoutMs: RECEIVE_TIMEOUT_S * 1000 });
  const byCase = new Map<string, { sent: number; non4xx: number; unclear: number; samples: string[] }>();
  const runBatch = async (count: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < count; i = next++) {
          const hostile = cases[i % cases.length]!;
          const stats = byCase.get(hostile.name) ?? { sent: 0, non4xx: 0, unclear: 0, samples: [] };
          byCase.set(hostile.name, stats);
          stats.sent++;
          try {
            const { status, message } = await hostile.send(url, undefined);
            if (status < 400 || status >= 500) {
              stats.non4xx++;
              if (stats.samples.length < 3) stats.samples.push(`${status} ${message.slice(0, 160)}`);
            } else if (!hostile.message.test(message)) {
              stats.unclear++;
              if (stats.samples.length < 3) stats.samples.push(`${status} ${message.slice(0, 160)}`);
            }
          } catch (error) {
            // The client saw no answer at all (a reset connection, say).
            stats.non4xx++;
            const cause = (error as { cause?: { code?: string; message?: string } }).cause;
            if (stats.samples.length < 3)
              stats.samples.push(`no response: ${(error as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ""}`);
          }
        }
      }),
    );
  };
  await runBatch(1000);
  await sleep(2000);
  const rssWarm = rssBytes(pid);
  byCase.clear();
  const started = performance.now();
  await runBatch(HOSTILE);
  const seconds = (performance.now() - started) / 1000;
  await sleep(2000);
  const rssAfter = rssBytes(pid);
  const alive = await streamChat(url, QUESTIONS[0]!, { joy: 1 });
  const stats = [...byCase.values()];
  return {
    requests: stats.reduce((n, s) => n + s.sent, 0),
    non_4xx: stats.reduce((n, s) => n + s.non4xx, 0),
    unclear_message: stats.reduce((n, s) => n + s.unclear, 0),
    seconds: round(seconds),
    rss_warm_mb: round(rssWarm / 2 ** 20),
    rss_after_mb: round(rssAfter / 2 ** 20),
    rss_ratio: round(rssAfter / rssWarm, 3),
    alive_after: alive.ok,
    cases: Object.fromEntries(byCase),
  };
}

/** SIGTERM while a stream is in flight: the stream must end normally and the process exit 0. */
async function drainRun(url: string, child: ChildProcess) {
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const inFlight = streamChat(url, QUESTIONS[1]!, { joy: 1 });
  await sleep(300);
  child.kill("SIGTERM");
  const answer = await inFlight;
  const code = await exited;
  return { in_flight_completed: answer.ok && answer.tokens > 0, exit_code: code };
}

/** The options this run was given, but --out (a run writes to benchmarks/ by default). */
function commandLine(): string {
  const args = [...ARGV];
  const at = args.indexOf("--out");
  if (at !== -1) args.splice(at, 2);
  return args.join(" ");
}

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) * 1024;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function report(r: Record<string, any>): string {
  const rows = [1, 4, 8].map((c) => {
    const x = r[`clients_${c}`];
    return `| ${c} | ${x.requests} | ${x.errors} | ${x.ttft_p50_ms} | ${x.ttft_p95_ms} | ${x.tok_s} | ${x.equal_alone}/${x.requests - x.errors} | ${x.crosstalk} |`;
  });
  const batched = Object.keys(r)
    .filter((k) => /^parallel_\d+(_\w+)?$/.test(k))
    .map((k) => batchedSection(r[k], r));
  const crosstalk = Object.keys(r)
    .filter((k) => /^crosstalk_\d+(_\w+)?$/.test(k))
    .map((k) => crosstalkSection(r[k]));
  const h = r.hostile;
  const cases = Object.entries(h.cases as Record<string, { sent: number; non4xx: number; unclear: number; samples: string[] }>).map(
    ([name, s]) => `| ${name} | ${s.sent} | ${s.non4xx} | ${s.unclear} | ${s.samples.map((x) => x.replace(/\|/g, "\\|")).join("; ")} |`,
  );
  return `# Server benchmark

Produced by \`${r.client_rows_command ?? r.command}\` (${r.client_rows_date ?? r.date}; ${r.backend}, ${r.model}, greedy, max_tokens ${r.max_tokens}, streamed)${r.client_rows_command ? `; the hostile and drain sections by \`${r.command}\` (${r.date})` : ""}.
The real \`emosteer serve\` runs as a child process; clients are plain \`fetch\` streams on the same
2-core machine (which other work shared during the run: absolute figures vary, compare within a run).

## Concurrent clients, each with its own emotion mix (one slot)

The server with one slot (\`--parallel 1\`, the only mode before batched sessions): requests are served one at a time.
${r.clients_8.requests} requests with 8 clients, ${r.clients_1.requests} with 1 and ${r.clients_4.requests} with 4; with 4 and 8 clients client *c* always steers with mix *c* of
${MIXES.map((m) => JSON.stringify(m)).join(", ")}. TTFT includes the wait in the queue.

| clients | requests | errors | TTFT p50 (ms) | TTFT p95 (ms) | aggregate tok/s | equal to the request served alone | cross-talk |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join("\n")}

With one slot the server queues and concurrency buys no throughput: aggregate tok/s stays flat
while TTFT grows with the queue. Cross-talk is counted as
answers that differ from the same greedy request served alone; on this serialised path it can only
be 0 or a bug. The issue's cross-talk target (neighbours' mixes changed in one batched decode) needs
the batched engine sessions of issue 13: see the batched rows below, and the cross-talk test
(apps/server/test/crosstalk.test.ts).
${batched.join("")}${crosstalk.join("")}
## Hostile requests

${h.requests} malformed or hostile requests, 16 at a time, cycling through ${cases.length} kinds
(after a warm-up of 1,000): **${h.non_4xx} answered with anything but a 4xx**, ${h.unclear_message}
with a message that did not say what was wrong. RSS ${h.rss_warm_mb} MB after the warm-up,
${h.rss_after_mb} MB after the run (ratio ${h.rss_ratio}); a steered request afterwards ${h.alive_after ? "succeeded" : "FAILED"}.
The run took ${h.seconds} s.

| kind | sent | not 4xx | unclear message | samples of what went wrong |
| --- | --- | --- | --- | --- |
${cases.join("\n")}

## Drain

SIGTERM with a stream in flight: the stream ${r.drain.in_flight_completed ? "completed" : "did NOT complete"}, and the process exited with ${r.drain.exit_code}.
`;
}

await main();

/** The deterministic-schedule cross-talk run of `--crosstalk N`. */
function crosstalkSection(x: Record<string, any>): string {
  return `
## Cross-talk, deterministic schedule (${x.backend}, \`--parallel ${x.slots} --start-together ${x.slots}\`)

Produced by \`${x.command}\` (${x.date}; ${x.backend}, greedy, max_tokens ${x.max_tokens}, streamed). Requests go in groups
of ${x.slots}, sent in a fixed order (each once the one before it waits in the queue), and start together, request *i*
in row *i* of one engine session. Each group runs three times: with its assigned mixes, with the odd rows' mixes
changed, and with the even rows' changed; a row whose own request did not change must answer token for token the
same. ${x.requests} requests, ${x.errors} errors; **${x.crosstalk} of ${x.compared_rows} kept rows changed** (cross-talk)${
    x.samples.length ? `: ${x.samples.join("; ")}` : ""
  }. The change was real: ${x.neighbours_changed_answers} of the changed rows answered differently. ${x.shared_decode_runs} of
${x.decode_runs} decode runs carried ≥ 2 sequences, at most ${x.max_sequences_in_one_run} in one run. The run took ${x.seconds} s.
`;
}

/** p50 / p99 / max event-loop lag of a row, "–" for rows measured before the gauges existed. */
function lagCell(x: Record<string, any>): string {
  return x.event_loop_lag_p50_ms === undefined
    ? "–"
    : `${x.event_loop_lag_p50_ms} / ${x.event_loop_lag_p99_ms} / ${x.event_loop_lag_max_ms}`;
}

/** The rows of a `--parallel N` run, against the one-slot rows of the same file. */
function batchedSection(p: Record<string, any>, r: Record<string, any>): string {
  const counts = [1, 4, 8].filter((c) => p[`clients_${c}`]);
  // Runs from before the lag gauges existed keep their original columns.
  const lagged = counts.some((c) => p[`clients_${c}`].event_loop_lag_p50_ms !== undefined);
  const rows = counts.map((c) => {
    const x = p[`clients_${c}`];
    // Compared with the one-slot rows only when they ran on the same engine.
    const one = p.backend === r.backend ? r[`clients_${c}`] : undefined;
    return `| ${c} | ${x.requests} | ${x.errors} | ${x.ttft_p50_ms} | ${x.ttft_p95_ms} | ${x.tok_s} | ${one ? `${one.tok_s} (${round(x.tok_s / one.tok_s, 2)}×)` : "–"} | ${x.equal_alone}/${x.requests - x.errors} |${lagged ? ` ${lagCell(x)} | ${x.load_avg_1m ? x.load_avg_1m.join(" → ") : "–"} |` : ""}`;
  });
  const idle = p.event_loop_lag_idle ? ` The idle server read ${lagCell(p.event_loop_lag_idle)} ms (p50 / p99 / max).` : "";
  return `
## Concurrent clients, batched (${p.backend}, \`--parallel ${p.parallel}\`${p.tag ? `, ${p.tag}` : ""})

Produced by \`${p.command}\` (${p.date}; ${p.backend}, greedy, max_tokens ${p.max_tokens}, streamed): up to ${p.parallel} requests
decode together in one engine session, each with its own steering; the same mixes and questions as above.

| clients | requests | errors | TTFT p50 (ms) | TTFT p95 (ms) | aggregate tok/s | one-slot tok/s above (ratio) | equal to the request served alone |${lagged ? " event-loop lag p50 / p99 / max (ms) | load average (1 min, start → end) |" : ""}
| --- | --- | --- | --- | --- | --- | --- | --- |${lagged ? " --- | --- |" : ""}
${rows.join("\n")}
${
  lagged
    ? `
Event-loop lag: how late the server's event loop ran a 10 ms timer during the row (its
\`emosteer_event_loop_lag_seconds\` gauges, read before and after the row), so an idle loop reads
about 10 ms; every socket of the server (new requests, streams, aborts) waits as long.${idle}
`
    : ""
}
"Served alone" here is the same request on the same server with no neighbour (a batch of one); a
batched decode changes matmul shapes and may round differently, so an unequal answer is not by
itself cross-talk. Cross-talk proper (neighbours' mixes changed in a fixed schedule, ≥ 2 sequences
per decode step) is what apps/server/test/crosstalk.test.ts checks. The one-slot rows ran earlier,
under other load and with their own request counts: compare the ratio loosely.
`;
}
