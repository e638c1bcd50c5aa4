/**
 * Batched steering on ONNX (issue 13): aggregate decode throughput of concurrent requests, each
 * steered differently, in one generation session (one session run per step) against serving them
 * one at a time and against the same number of concurrent unsteered requests; and the peak RSS
 * each additional concurrent sequence costs. Default model, fp32, greedy, `--tokens` per request.
 *
 *   node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-onnx/scripts/batched-bench.ts [--tokens 24] [--reps 1] [--out benchmarks]
 *
 * Writes benchmarks/engines.json keys batched.onnx.* and the "Batched steering" section of
 * benchmarks/ENGINES.md (`--out`: another folder, for a trial run). Ratios come from one run of
 * this script; the load average is recorded. The harness (prompts, mixes, clock, RSS probe) is
 * core/node's session-bench, shared with the llama.cpp bench.
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import {
  onePairJoyVector,
  peakRssDuring,
  rssAboveBase,
  rssPerSequence,
  runSessionBenchArms,
  SESSION_BENCH_PROMPTS,
  serveRequests,
  sessionBenchResult,
  sessionBenchSetup,
  sessionBenchSpecs,
  sessionBenchTables,
  writeJsonKey,
  writeMarkdownSection,
} from "@emosteer/core/node";
import type { SteeringSpec } from "@emosteer/core";
import { ensureModel } from "@emosteer/models";
import { createOnnxBackend, type OnnxSteeringBackend } from "../src/index.js";

const setup = sessionBenchSetup(import.meta.url, process.argv.slice(2));
const { tokens: TOKENS, reps: REPS, rssChild: RSS_CHILD, out: OUT } = setup;

const log = (s: string) => process.stderr.write(`[batched-bench] ${s}\n`);

async function load(): Promise<{ backend: OnnxSteeringBackend; specs: SteeringSpec[] }> {
  const { path } = await ensureModel("smollm2-135m-instruct");
  const backend = await createOnnxBackend({ modelPath: path, precision: "fp32" });
  return { backend, specs: sessionBenchSpecs(await onePairJoyVector(backend, "bench")) };
}

/** n requests: one at a time through backend.generate, or all at once in one session. */
const serve = (backend: OnnxSteeringBackend, specs: readonly (SteeringSpec | null)[], mode: "sequential" | "concurrent") =>
  serveRequests(backend, specs, { mode, tokens: TOKENS, runName: "session run" });

if (RSS_CHILD > 0) {
  // Child: peak RSS of RSS_CHILD concurrent steered generations above the warmed-up model.
  const { backend, specs } = await load();
  await backend.generate(SESSION_BENCH_PROMPTS[0]!, { maxTokens: 4, steering: specs[0]! });
  const { baseMb, peakMb } = await peakRssDuring(() =>
    serve(backend, specs.slice(0, RSS_CHILD), RSS_CHILD === 1 ? "sequential" : "concurrent"),
  );
  process.stdout.write(`${JSON.stringify({ n: RSS_CHILD, baseMb, peakMb })}\n`);
  await backend.dispose();
  process.exit(0);
}

const loadBefore = loadavg();
const { backend, specs } = await load();
await backend.generate(SESSION_BENCH_PROMPTS[0]!, { maxTokens: 4 }); // warm-up
const arms = await runSessionBenchArms({
  reps: REPS,
  specs,
  unsteered8: false,
  serve: (steering, mode) => serve(backend, steering, mode),
  log,
  sharedNoun: "shared runs",
});
await backend.dispose();

log("peak RSS per concurrent sequence (one child process per batch size)…");
const { rss, slopeMb } = await rssPerSequence({
  script: setup.script,
  sizes: [1, 2, 4, 8],
  childArgs: ["--tokens", String(TOKENS)],
  cwd: setup.repoRoot,
  log,
});

const result = sessionBenchResult({
  arms,
  rss,
  slopeMb,
  model: "smollm2-135m-instruct fp32",
  tokens: TOKENS,
  reps: REPS,
  loadBefore,
});
const { figures, detail } = result;
console.log(JSON.stringify({ figures, detail }, null, 2));

const jsonPath = join(OUT, "engines.json");
await writeJsonKey(jsonPath, "batched.onnx", { ...figures, detail });

const body = [
  "## Batched steering",
  "",
  "Per-request steering in one forward pass on ONNX (issue 13): requests each steered differently run in one generation session",
  "(`backend.createSession({ parallelSequences })`), one session run per decode step with a `steering [batch, layers, hidden]` table;",
  `against serving them one at a time (\`backend.generate\`, batch 1) and against concurrent unsteered requests. ${detail.model}, greedy,`,
  `${TOKENS} tokens per request, aggregate tok/s = generated tokens / wall time including prompt passes, ${REPS} interleaved rep(s).`,
  "",
  "```",
  `node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-onnx/scripts/batched-bench.ts --tokens ${TOKENS} --reps ${REPS}`,
  "```",
  "",
  ...sessionBenchTables(result, "batched.onnx", "concurrent"),
  "",
  "Steered and unsteered concurrent runs execute the same graph (the unsteered rows feed a zero table), so their ratio measures",
  "the machine's noise more than a cost; the per-rep column shows how far one rep moves under this load.",
  "",
  `Peak RSS above the warmed-up model, MB: ${rssAboveBase(rss)}. For scale, the KV cache of one sequence is 30 layers × 2 × 3 heads × 64 × 4 B = 45 KiB per token.`,
].join("\n");
const mdPath = join(OUT, "ENGINES.md");
await writeMarkdownSection(mdPath, "batched-steering", "packages/backend-onnx/scripts/batched-bench.ts", body);
log(`wrote ${jsonPath} (batched.onnx) and the "Batched steering" section of ${mdPath}`);
