/**
 * Batched steering on transformers.js (issue 13): aggregate decode throughput of concurrent
 * requests, each steered differently, in one generation session (one transformers.js forward pass
 * per step with a `steering [batch, layers, hidden]` table) against serving them one at a time
 * (`backend.generate`, transformers.js's own generate loop, batch 1) and against the same number of
 * concurrent unsteered requests; and the peak RSS each additional concurrent sequence costs.
 * Default model, the exporter's fp32 folder, greedy, `--tokens` per request.
 *
 *   node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-transformers/scripts/batched-bench.ts [--tokens 24] [--reps 1] [--out benchmarks]
 *
 * Writes benchmarks/engines.json keys batched.transformers.* and the "Batched steering on
 * transformers.js" section of benchmarks/ENGINES.md (`--out`: another folder, for a trial run).
 * Ratios come from one run of this script; the load average is recorded. The harness (prompts,
 * mixes, clock, RSS probe) is core/node's session-bench, shared with the ONNX and llama.cpp benches.
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import type { SteeringSpec } from "@emosteer/core";
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
import { createTransformersBackend, type TransformersSteeringBackend } from "../src/index.js";
// The tests' way to the exported folder (the exporter's script; this package never imports the exporter).
import { exportedModelDir } from "../test/exported-model.js";

const setup = sessionBenchSetup(import.meta.url, process.argv.slice(2));
const { tokens: TOKENS, reps: REPS, rssChild: RSS_CHILD, out: OUT } = setup;

const log = (s: string) => process.stderr.write(`[batched-bench transformers.js] ${s}\n`);

async function load(): Promise<{ backend: TransformersSteeringBackend; specs: SteeringSpec[] }> {
  const backend = await createTransformersBackend({ modelDir: await exportedModelDir("fp32") });
  return { backend, specs: sessionBenchSpecs(await onePairJoyVector(backend, "bench")) };
}

/** n requests: one at a time through backend.generate, or all at once in one session. */
const serve = (backend: TransformersSteeringBackend, specs: readonly (SteeringSpec | null)[], mode: "sequential" | "concurrent") =>
  serveRequests(backend, specs, { mode, tokens: TOKENS, runName: "forward pass" });

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
  sharedNoun: "shared forward passes",
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
  model: "smollm2-135m-instruct fp32 (exported folder)",
  tokens: TOKENS,
  reps: REPS,
  loadBefore,
});
const { figures, detail } = result;
console.log(JSON.stringify({ figures, detail }, null, 2));

const jsonPath = join(OUT, "engines.json");
await writeJsonKey(jsonPath, "batched.transformers", { ...figures, detail });

const body = [
  "## Batched steering on transformers.js",
  "",
  "Per-request steering in one forward pass on transformers.js (issue 13): requests each steered differently run in one generation",
  "session (`backend.createSession({ parallelSequences })`), one transformers.js forward pass per decode step on the exporter's graph",
  "with a `steering [batch, layers, hidden]` table and per-row KV lengths (core's `PaddedKvCache`, the ONNX engine's layout);",
  "against serving them one at a time (`backend.generate`: transformers.js's own generate loop, batch 1) and against concurrent",
  `unsteered requests. ${detail.model}, greedy, ${TOKENS} tokens per request, aggregate tok/s = generated tokens / wall time`,
  `including prompt passes, ${REPS} interleaved rep(s). The machine was shared with other work (see the load average).`,
  "",
  "```",
  `node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-transformers/scripts/batched-bench.ts --tokens ${TOKENS} --reps ${REPS}`,
  "```",
  "",
  ...sessionBenchTables(result, "batched.transformers", "concurrent"),
  "",
  "Steered and unsteered concurrent runs execute the same graph (the unsteered rows feed a zero table), so their ratio measures",
  "the machine's noise more than a cost; the per-rep column shows how far one rep moves under this load.",
  "",
  `Peak RSS above the warmed-up model, MB: ${rssAboveBase(rss)}.`,
].join("\n");
const mdPath = join(OUT, "ENGINES.md");
await writeMarkdownSection(mdPath, "batched-steering-transformers", "packages/backend-transformers/scripts/batched-bench.ts", body);
log(`wrote ${jsonPath} (batched.transformers) and the "Batched steering on transformers.js" section of ${mdPath}`);
