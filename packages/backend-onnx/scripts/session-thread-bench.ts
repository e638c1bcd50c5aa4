/**
 * Where the ONNX session runs (issue 13: "sessions run off the main thread"): the same greedy
 * generations on a backend whose session runs in its worker thread (`sessionThread: "worker"`, the
 * default) and on one that runs it on the calling thread (`"caller"`, onnxruntime-node's own way),
 * interleaved in one process, with the caller's event-loop lag and utilisation during each; and
 * what a decode step's KV cache costs to move to the worker, transferred against copied.
 *
 *   node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-onnx/scripts/session-thread-bench.ts [--pairs 8] [--tokens 32] [--out benchmarks]
 *
 * Writes benchmarks/engines.json key session_thread.onnx and the "Session thread" section of
 * benchmarks/ENGINES.md. Ratios from one run; the load average is recorded (shared machine).
 */
import { readFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { runSessionThreadPairs, SESSION_THREAD_PROMPTS, sessionThreadTable, writeJsonKey, writeMarkdownSection } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { GRAPH_IO } from "@emosteer/onnx-export";
import * as ort from "onnxruntime-node";
import { createOnnxBackend } from "../src/index.js";
import { openSessionRunner } from "../src/session-worker.js";

const { values } = parseArgs({
  options: {
    pairs: { type: "string", default: "8" },
    tokens: { type: "string", default: "32" },
    "kv-tokens": { type: "string", default: "512" },
    out: { type: "string", default: join(import.meta.dirname, "..", "..", "..", "benchmarks") },
  },
});
const PAIRS = Number(values.pairs);
const TOKENS = Number(values.tokens);
const KV_TOKENS = Number(values["kv-tokens"]);
const log = (s: string) => process.stderr.write(`[session-thread-bench] ${s}\n`);
/** One decode step at batch 4 after KV_TOKENS cached tokens, with the cache transferred or copied into the worker. */
async function stepCost(modelDir: string): Promise<{ transferMs: number[]; copyMs: number[]; callerMs: number[]; kvMb: number }> {
  const options = { graphOptimizationLevel: "all" as const, extra: { session: { intra_op: { allow_spinning: "0" } } } };
  const model = join(modelDir, "onnx", "model.onnx");
  const worker = await openSessionRunner(model, options, { what: "bench worker" });
  const caller = await openSessionRunner(model, options, { thread: "caller", what: "bench caller" });
  const config = JSON.parse(await readFile(join(modelDir, "config.json"), "utf8")) as {
    num_key_value_heads: number;
    head_dim: number;
    num_hidden_layers: number;
    hidden_size: number;
  };
  const B = 4;
  const T = KV_TOKENS;
  const L = config.num_hidden_layers;
  const kvLength = B * config.num_key_value_heads * T * config.head_dim;
  const feeds = (): Record<string, ort.Tensor> => {
    const out: Record<string, ort.Tensor> = {
      [GRAPH_IO.inputIds]: new ort.Tensor("int64", new BigInt64Array(B).fill(42n), [B, 1]),
      [GRAPH_IO.attentionMask]: new ort.Tensor("int64", new BigInt64Array(B * (T + 1)).fill(1n), [B, T + 1]),
      [GRAPH_IO.positionIds]: new ort.Tensor("int64", new BigInt64Array(B).fill(BigInt(T)), [B, 1]),
      [GRAPH_IO.steering]: new ort.Tensor("float32", new Float32Array(B * L * config.hidden_size), [B, L, config.hidden_size]),
    };
    for (let i = 0; i < L; i++)
      for (const name of [GRAPH_IO.pastKey(i), GRAPH_IO.pastValue(i)])
        out[name] = new ort.Tensor("float32", new Float32Array(kvLength).fill(0.01), [B, config.num_key_value_heads, T, config.head_dim]);
    return out;
  };
  const fetches = [GRAPH_IO.logits, ...Array.from({ length: L }, (_, i) => [GRAPH_IO.presentKey(i), GRAPH_IO.presentValue(i)]).flat()];
  const time = async (run: () => Promise<unknown>) => {
    const t0 = performance.now();
    await run();
    return performance.now() - t0;
  };
  const transferMs: number[] = [];
  const copyMs: number[] = [];
  const callerMs: number[] = [];
  for (let i = 0; i < PAIRS + 1; i++) {
    const f1 = feeds();
    const t1 = await time(() => worker.run(f1, fetches, { transfer: Object.keys(f1) }));
    const f2 = feeds();
    const t2 = await time(() => worker.run(f2, fetches));
    const f3 = feeds();
    const t3 = await time(() => caller.run(f3, fetches));
    if (i === 0) continue; // warm-up
    transferMs.push(t1);
    copyMs.push(t2);
    callerMs.push(t3);
  }
  await worker.release();
  await caller.release();
  return { transferMs, copyMs, callerMs, kvMb: (2 * L * kvLength * 4) / 2 ** 20 };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const r = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const { path } = await ensureModel("smollm2-135m-instruct");
const worker = await createOnnxBackend({ modelPath: path, sessionThread: "worker" });
const caller = await createOnnxBackend({ modelPath: path, sessionThread: "caller" });
const loadStart = loadavg()[0]!;
const cpuStart = process.cpuUsage();
const wallStart = performance.now();
const figures = await runSessionThreadPairs({ worker, caller }, { pairs: PAIRS, tokens: TOKENS, log });
const modelDir = worker.modelDir;
await worker.dispose();
await caller.dispose();
log(`step cost: batch 4 after ${KV_TOKENS} tokens, transferred vs copied`);
const step = await stepCost(modelDir);
const cpu = process.cpuUsage(cpuStart);
const result = {
  command: `node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-onnx/scripts/session-thread-bench.ts --pairs ${PAIRS} --tokens ${TOKENS} --kv-tokens ${KV_TOKENS}`,
  date: new Date().toISOString(),
  model: "smollm2-135m-instruct",
  precision: "fp32",
  load_avg_1m: [r(loadStart), r(loadavg()[0]!)],
  wall_s: r((performance.now() - wallStart) / 1000, 1),
  cpu_s: r((cpu.user + cpu.system) / 1e6, 1),
  pairs: PAIRS,
  tokens_per_request: TOKENS,
  requests_per_arm: SESSION_THREAD_PROMPTS.length,
  ...figures,
  step_batch4: {
    kv_tokens: KV_TOKENS,
    kv_mb: r(step.kvMb, 1),
    transferred_ms: r(median(step.transferMs)),
    copied_ms: r(median(step.copyMs)),
    caller_thread_ms: r(median(step.callerMs)),
  },
};
log(JSON.stringify(result));
const out = values.out!;
await writeJsonKey(join(out, "engines.json"), "session_thread.onnx", result);
const s = result.step_batch4;
await writeMarkdownSection(
  join(out, "ENGINES.md"),
  "session-thread",
  "packages/backend-onnx/scripts/session-thread-bench.ts",
  `## Session thread (ONNX): runs off the event loop

Produced by \`${result.command}\` (${result.date}; default model, fp32, greedy). The machine was shared with other work
(load average ${result.load_avg_1m.join(" → ")} on 2 cores; ${result.wall_s} s wall, ${result.cpu_s} CPU-s for the process), so
compare the two sides within this run only. Each pair runs ${result.requests_per_arm} requests × ${TOKENS} tokens in one
batched session on a backend with \`sessionThread: "worker"\` (the default: onnxruntime in a worker thread of the backend)
and on one with \`"caller"\` (onnxruntime-node's own way, on the event loop), in alternating order; medians over ${PAIRS} pairs.

${sessionThreadTable(result)}

Decode time per token, worker / caller: **${result.decode_time_ratio_worker_vs_caller}** (median of the pairs' ratios).
The lag is how late a 10 ms timer fired (so an idle loop reads about 10 ms); the utilisation is the
share of the time the caller's event loop was busy (1: blocked throughout).

A decode step at batch 4 after ${s.kv_tokens} cached tokens (KV cache ${s.kv_mb} MB): ${s.transferred_ms} ms with the
cache transferred to the worker (what the backend does: the buffers move, no copy), ${s.copied_ms} ms with it copied
(structured clone), ${s.caller_thread_ms} ms on the caller's thread (medians of ${PAIRS}, the three in a fixed order per round:
on this machine under this load a difference of a fifth is within the noise).
`,
);
log(`wrote session_thread.onnx into ${join(out, "engines.json")} and ENGINES.md`);
