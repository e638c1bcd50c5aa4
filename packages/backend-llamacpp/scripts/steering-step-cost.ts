/**
 * What the per-sequence steering table costs in a batched decode step (issue 13: steered vs
 * unsteered): the patched addon's context of 4 sequences of 512 cells (as the batched bench's
 * session), each holding a 20-token prompt, then `--steps` steps of one token per sequence in one
 * llama_decode, with every sequence steered by its own row (layer windows 3–12 … 3–15, as the
 * bench's mixes) or with no table in the graph; the two arms alternate over `--reps` pairs, and
 * the per-pair ratio of process CPU time is printed (wall time too, less steady on a shared box).
 * With `--counters`, llama.cpp's own figures (graph nodes at each scheduler reserve, graphs
 * reused) are printed through its log.
 *
 *   node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-llamacpp/scripts/steering-step-cost.ts [--threads 2] [--reps 6] [--steps 24] [--counters]
 *
 * Prints only (stdout); nothing is written to benchmarks/.
 */
import { loadavg } from "node:os";
import { numberFlag, readModelInfo } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import type { Llama } from "node-llama-cpp";
import { bindingsOf, loadPatchedLlama, type NativeContext, nativeModelOf } from "../src/native.js";

const args = process.argv.slice(2);
const THREADS = numberFlag(args, "threads", 2);
const REPS = numberFlag(args, "reps", 6);
const STEPS = numberFlag(args, "steps", 24);
const COUNTERS = args.includes("--counters");
const SEQUENCES = 4;
const PROMPT = 20;

const { path } = await ensureModel("smollm2-135m-instruct");
const llama = await loadPatchedLlama();
if (COUNTERS) llama.logLevel = "info" as Llama["logLevel"];
const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
const { hiddenSize, layerCount } = await readModelInfo(path);
// performanceTracking (node-llama-cpp's option, not in our NativeContextOptions): llama.cpp keeps its perf counters.
const ctx = new (bindingsOf(llama).AddonContext)(nativeModelOf(model), {
  contextSize: 512 * SEQUENCES,
  batchSize: 512,
  sequences: SEQUENCES,
  threads: THREADS,
  flashAttention: false,
  performanceTracking: COUNTERS,
} as never) as NativeContext & { printTimings(): void };
if (!(await ctx.init())) throw new Error("llama.cpp could not create the context");

/** A non-zero row per layer, different per sequence. */
const vector = (s: number) => Float32Array.from({ length: hiddenSize * (layerCount - 1) }, (_, i) => Math.sin(i * 0.37 + s) * 0.5);
const vectors = Array.from({ length: SEQUENCES }, (_, s) => vector(s));
const position = new Array<number>(SEQUENCES).fill(0);

function steer(on: boolean): void {
  for (let s = 0; s < SEQUENCES; s++)
    if (on) ctx.setSequenceSteering(s, vectors[s]!, 3 + (s % 3), 12 + (s % 4));
    else ctx.setSequenceSteering(s, null);
}

async function prompts(): Promise<void> {
  for (let s = 0; s < SEQUENCES; s++) {
    ctx.disposeSequence(s);
    ctx.initBatch(PROMPT);
    ctx.addToBatch(
      s,
      0,
      Uint32Array.from({ length: PROMPT }, (_, i) => 100 + i),
      Uint32Array.of(PROMPT - 1),
    );
    await ctx.decodeBatch();
    position[s] = PROMPT;
  }
}

async function steps(n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    ctx.initBatch(SEQUENCES);
    for (let s = 0; s < SEQUENCES; s++) ctx.addToBatch(s, position[s]!++, Uint32Array.of(200 + k), Uint32Array.of(0));
    await ctx.decodeBatch();
  }
}

const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const runs = { on: [] as { wall: number; cpu: number }[], off: [] as { wall: number; cpu: number }[] };
const loadBefore = loadavg();
for (const on of [true, false]) {
  steer(on); // warm-up of both graphs
  await prompts();
  await steps(4);
}
for (let rep = 0; rep < REPS; rep++) {
  for (const arm of rep % 2 ? (["on", "off"] as const) : (["off", "on"] as const)) {
    steer(arm === "on");
    await prompts();
    const c0 = cpuMs();
    const t0 = performance.now();
    await steps(STEPS);
    runs[arm].push({ wall: performance.now() - t0, cpu: cpuMs() - c0 });
    if (COUNTERS && rep === REPS - 1) {
      process.stderr.write(`llama.cpp counters after the ${arm === "on" ? "steered" : "unsteered"} steps:\n`);
      ctx.printTimings();
    }
  }
}
const median = (v: readonly number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const ratio = (k: "wall" | "cpu") => median(runs.on.map((r, i) => r[k] / runs.off[i]![k]));
console.log(
  JSON.stringify(
    {
      threads: THREADS,
      reps: REPS,
      stepsPerArm: STEPS,
      loadAverageBefore: loadBefore.map((x) => +x.toFixed(1)),
      loadAverageAfter: loadavg().map((x) => +x.toFixed(1)),
      steeredOverUnsteeredCpu: +ratio("cpu").toFixed(3),
      steeredOverUnsteeredWall: +ratio("wall").toFixed(3),
      cpuMsMedian: { steered: +median(runs.on.map((r) => r.cpu)).toFixed(1), unsteered: +median(runs.off.map((r) => r.cpu)).toFixed(1) },
    },
    null,
    2,
  ),
);
await ctx.dispose();
await model.dispose();
