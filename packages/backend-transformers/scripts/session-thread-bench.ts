/**
 * Where transformers.js sessions run their forward passes (issue 13: "sessions run off the main
 * thread"): the same batched greedy generations on a backend whose sessions run in its worker
 * thread (`sessionThread: "worker"`, the Node default) and on one that runs them on the calling
 * thread (`"caller"`), interleaved in one process, with the caller's event-loop lag and
 * utilisation during each. The arms are core/node's, shared with the ONNX session-thread bench.
 *
 *   node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-transformers/scripts/session-thread-bench.ts [--pairs 6] [--tokens 24] [--out benchmarks]
 *
 * Writes benchmarks/engines.json key session_thread.transformers and the "Session thread
 * (transformers.js)" section of benchmarks/ENGINES.md. Ratios from one run; the load average is
 * recorded (shared machine).
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { runSessionThreadPairs, SESSION_THREAD_PROMPTS, sessionThreadTable, writeJsonKey, writeMarkdownSection } from "@emosteer/core/node";
import { createTransformersBackend } from "../src/index.js";
// The tests' way to the exported folder (the exporter's script; this package never imports the exporter).
import { exportedModelDir } from "../test/exported-model.js";

const { values } = parseArgs({
  options: {
    pairs: { type: "string", default: "6" },
    tokens: { type: "string", default: "24" },
    out: { type: "string", default: join(import.meta.dirname, "..", "..", "..", "benchmarks") },
  },
});
const PAIRS = Number(values.pairs);
const TOKENS = Number(values.tokens);
const log = (s: string) => process.stderr.write(`[session-thread-bench transformers.js] ${s}\n`);
const r = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const modelDir = await exportedModelDir("fp32");
const worker = await createTransformersBackend({ modelDir, sessionThread: "worker" });
const caller = await createTransformersBackend({ modelDir, sessionThread: "caller" });
const loadStart = loadavg()[0]!;
const cpuStart = process.cpuUsage();
const wallStart = performance.now();
const figures = await runSessionThreadPairs({ worker, caller }, { pairs: PAIRS, tokens: TOKENS, log });
await worker.dispose();
await caller.dispose();
const cpu = process.cpuUsage(cpuStart);
const result = {
  command: `node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-transformers/scripts/session-thread-bench.ts --pairs ${PAIRS} --tokens ${TOKENS}`,
  date: new Date().toISOString(),
  model: "smollm2-135m-instruct",
  precision: "fp32 (exported folder)",
  load_avg_1m: [r(loadStart), r(loadavg()[0]!)],
  wall_s: r((performance.now() - wallStart) / 1000, 1),
  cpu_s: r((cpu.user + cpu.system) / 1e6, 1),
  pairs: PAIRS,
  tokens_per_request: TOKENS,
  requests_per_arm: SESSION_THREAD_PROMPTS.length,
  ...figures,
};
log(JSON.stringify(result));
const out = values.out!;
await writeJsonKey(join(out, "engines.json"), "session_thread.transformers", result);
await writeMarkdownSection(
  join(out, "ENGINES.md"),
  "session-thread-transformers",
  "packages/backend-transformers/scripts/session-thread-bench.ts",
  `## Session thread (transformers.js): runs off the event loop

Produced by \`${result.command}\` (${result.date}; default model, the exporter's fp32 folder, greedy). The machine was shared with other work
(load average ${result.load_avg_1m.join(" → ")} on 2 cores; ${result.wall_s} s wall, ${result.cpu_s} CPU-s for the process, both threads), so
compare the two sides within this run only. Each pair runs ${result.requests_per_arm} requests × ${TOKENS} tokens in one
batched session on a backend with \`sessionThread: "worker"\` (the Node default: the sessions' forward passes run on the
backend's worker thread, which holds its own copy of the model; the step loop, sampling and KV gathering stay on the caller)
and on one with \`"caller"\` (each forward pass on the event loop), in alternating order; medians over ${PAIRS} pairs.

${sessionThreadTable(result)}

Decode time per token, worker / caller: **${result.decode_time_ratio_worker_vs_caller}** (median of the pairs' ratios; each step's
feeds and KV cache move to the worker and back by transfer, without a copy).
The lag is how late a 10 ms timer fired (so an idle loop reads about 10 ms); the utilisation is the
share of the time the caller's event loop was busy (1: blocked throughout).
`,
);
log(`wrote session_thread.transformers into ${join(out, "engines.json")} and ENGINES.md`);
