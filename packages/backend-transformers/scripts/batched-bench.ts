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
 * Ratios come from one run of this script; the load average is recorded. The bench itself
 * (prompts, mixes, arms, clock, RSS probe, files) is core/node's runBatchedBench, shared with the
 * ONNX bench; this file says how the engine opens and what its section says.
 */
import { runBatchedBench } from "@emosteer/core/node";
import { createTransformersBackend } from "../src/index.js";
// The tests' way to the exported folder (the exporter's script; this package never imports the exporter).
import { exportedModelDir } from "../test/exported-model.js";

await runBatchedBench(import.meta.url, process.argv.slice(2), {
  name: "transformers.js",
  open: async () => createTransformersBackend({ modelDir: await exportedModelDir("fp32") }),
  runName: "forward pass",
  sharedNoun: "shared forward passes",
  model: "smollm2-135m-instruct fp32 (exported folder)",
  jsonKey: "batched.transformers",
  section: {
    name: "batched-steering-transformers",
    heading: "## Batched steering on transformers.js",
    intro: ({ model, tokens, reps }) => [
      "Per-request steering in one forward pass on transformers.js (issue 13): requests each steered differently run in one generation",
      "session (`backend.createSession({ parallelSequences })`), one transformers.js forward pass per decode step on the exporter's graph",
      "with a `steering [batch, layers, hidden]` table and per-row KV lengths (core's `PaddedKvCache`, the ONNX engine's layout);",
      "against serving them one at a time (`backend.generate`: transformers.js's own generate loop, batch 1) and against concurrent",
      `unsteered requests. ${model}, greedy, ${tokens} tokens per request, ${reps} interleaved rep(s); the two clocks (decode,`,
      "incl. prompt) are defined below. The machine was shared with other work (see the load average).",
    ],
    notes: (rss) => [`Peak RSS above the warmed-up model, MB: ${rss}.`],
  },
});
