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
 * this script; the load average is recorded. The bench itself (prompts, mixes, arms, clock, RSS
 * probe, files) is core/node's runBatchedBench, shared with the transformers.js bench; this file
 * says how the engine opens and what its section says.
 */
import { runBatchedBench } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { createOnnxBackend } from "../src/index.js";

await runBatchedBench(import.meta.url, process.argv.slice(2), {
  name: "onnx",
  open: async () => createOnnxBackend({ modelPath: (await ensureModel("smollm2-135m-instruct")).path, precision: "fp32" }),
  runName: "session run",
  sharedNoun: "shared runs",
  model: "smollm2-135m-instruct fp32",
  jsonKey: "batched.onnx",
  section: {
    name: "batched-steering",
    heading: "## Batched steering",
    intro: ({ model, tokens, reps }) => [
      "Per-request steering in one forward pass on ONNX (issue 13): requests each steered differently run in one generation session",
      "(`backend.createSession({ parallelSequences })`), one session run per decode step with a `steering [batch, layers, hidden]` table;",
      `against serving them one at a time (\`backend.generate\`, batch 1) and against concurrent unsteered requests. ${model}, greedy,`,
      `${tokens} tokens per request, ${reps} interleaved rep(s); the two clocks (decode, incl. prompt) are defined below.`,
    ],
    notes: (rss) => [
      "Steered and unsteered concurrent runs execute the same graph (the unsteered rows feed a zero table), so their ratio measures",
      "the machine's noise more than a cost; the per-rep column shows how far one rep moves under this load.",
      "",
      `Peak RSS above the warmed-up model, MB: ${rss}. For scale, the KV cache of one sequence is 30 layers × 2 × 3 heads × 64 × 4 B = 45 KiB per token.`,
    ],
  },
});
