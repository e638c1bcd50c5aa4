/**
 * What a llama_decode costs by the shape of its batch (issue 13: why 8 concurrent requests gain
 * less than 4, and what putting a joiner's prompt into the shared decode saves): the patched
 * addon's context of 8 sequences (512 cells each, batch 512, as the batched bench's session),
 * default model (Q8_0), each shape timed in wall and process CPU time, all shapes interleaved
 * over `--reps`. A shape is a list of llama_decode calls, each a list of (sequence, tokens).
 *
 *   node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-llamacpp/scripts/decode-shapes.ts [--reps 8] [--threads 1] [--out benchmarks]
 *
 * Writes the "llama_decode cost by batch shape" section of benchmarks/ENGINES.md (`--out`: another folder).
 */
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { numberFlag, sessionBenchSetup, writeMarkdownSection } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { bindingsOf, loadPatchedLlama, nativeModelOf } from "../src/native.js";

const setup = sessionBenchSetup(import.meta.url, process.argv.slice(2));
const args = process.argv.slice(2);
const REPS = numberFlag(args, "reps", 8);
const THREADS = numberFlag(args, "threads", 1);
const SEQUENCES = 8;
const PROMPT = 32;
const log = (s: string) => process.stderr.write(`[decode-shapes] ${s}\n`);

type Call = readonly (readonly [sequence: number, tokens: number])[];
const each = (ids: readonly number[], tokens: number): Call => ids.map((s) => [s, tokens] as const);
const SHAPES: Record<string, readonly Call[]> = {
  "1 sequence × 1 token": [each([0], 1)],
  "4 sequences × 1 token (ids 0–3)": [each([0, 1, 2, 3], 1)],
  "8 sequences × 1 token (ids 0–7)": [each([0, 1, 2, 3, 4, 5, 6, 7], 1)],
  "4 sequences × 1 token (ids 0, 2, 4, 6)": [each([0, 2, 4, 6], 1)],
  [`3 × 1 token + a ${PROMPT}-token prompt, one decode`]: [[...each([0, 1, 2], 1), [3, PROMPT]]],
  [`3 × 1 token, then a ${PROMPT}-token prompt alone`]: [each([0, 1, 2], 1), [[3, PROMPT]]],
  [`4 prompts of ${PROMPT} tokens, one decode`]: [each([0, 1, 2, 3], PROMPT)],
  [`4 prompts of ${PROMPT} tokens, one decode each`]: [0, 1, 2, 3].map((s) => each([s], PROMPT)),
  [`8 prompts of ${PROMPT} tokens, one decode`]: [each([0, 1, 2, 3, 4, 5, 6, 7], PROMPT)],
};

const { path } = await ensureModel("smollm2-135m-instruct");
const llama = await loadPatchedLlama();
const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
const ctx = new (bindingsOf(llama).AddonContext)(nativeModelOf(model), {
  contextSize: 512 * SEQUENCES,
  batchSize: 512,
  sequences: SEQUENCES,
  threads: THREADS,
  flashAttention: false,
});
if (!(await ctx.init())) throw new Error("llama.cpp could not create the context");
const tokens = Array.from({ length: PROMPT }, (_, i) => 100 + i);
const position = new Array<number>(SEQUENCES).fill(0);

async function decode(call: Call): Promise<void> {
  ctx.initBatch(call.reduce((n, [, k]) => n + k, 0));
  for (const [s, k] of call) {
    ctx.addToBatch(s, position[s]!, Uint32Array.from(tokens.slice(0, k)), Uint32Array.of(k - 1));
    position[s]! += k;
  }
  await ctx.decodeBatch();
}

const loadBefore = loadavg();
for (let s = 0; s < SEQUENCES; s++) await decode([[s, PROMPT]]); // every sequence holds a 32-token prompt
const wall: Record<string, number[]> = {};
const cpu: Record<string, number[]> = {};
for (let rep = 0; rep < REPS; rep++) {
  for (const [name, calls] of Object.entries(SHAPES)) {
    // Back to the 32-token prompt when a sequence grows long, so every rep sees the same KV lengths.
    for (let s = 0; s < SEQUENCES; s++)
      if (position[s]! > 300) {
        ctx.removeTokenCellsFromSequence(s, PROMPT, -1);
        position[s] = PROMPT;
      }
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const call of calls) await decode(call);
    const c = process.cpuUsage(c0);
    wall[name] = [...(wall[name] ?? []), performance.now() - t0];
    cpu[name] = [...(cpu[name] ?? []), (c.user + c.system) / 1000];
  }
  log(`rep ${rep + 1}/${REPS}, load ${loadavg()[0]!.toFixed(1)}`);
}
await ctx.dispose();
await model.dispose();
const loadAfter = loadavg();

const median = (v: readonly number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const body = [
  `## llama_decode cost by batch shape, ${THREADS === 1 ? "1 thread" : `${THREADS} threads`}`,
  "",
  "What one step of the batched session costs by what its batch holds (issue 13: why 8 concurrent requests gain less than 4,",
  "and what a joiner's prompt in the shared decode saves): the patched addon's context of 8 sequences of 512 cells (batch 512,",
  `not unified: one KV stream per sequence, as the session's), smollm2-135m-instruct Q8_0, every sequence holding a ${PROMPT}-token prompt;`,
  `median over ${REPS} interleaved reps of wall time and of process CPU time (the machine shared with other sessions: CPU time is the steadier column).`,
  "",
  "```",
  `node_modules/.bin/tsx --conditions=@emosteer/source packages/backend-llamacpp/scripts/decode-shapes.ts --reps ${REPS} --threads ${THREADS}`,
  "```",
  "",
  `Measured ${new Date().toISOString().slice(0, 16)} UTC on ${cpus()[0]?.model ?? "unknown"} (2 cores, shared): load average ${loadBefore.map((x) => x.toFixed(1)).join(", ")} before, ${loadAfter.map((x) => x.toFixed(1)).join(", ")} after.`,
  "",
  "| batch shape | llama_decode calls | wall ms (median) | CPU ms (median) |",
  "| --- | --- | --- | --- |",
  ...Object.entries(SHAPES).map(
    ([name, calls]) => `| ${name} | ${calls.length} | ${median(wall[name]!).toFixed(1)} | ${median(cpu[name]!).toFixed(1)} |`,
  ),
].join("\n");
console.log(body);
await writeMarkdownSection(
  join(setup.out, "ENGINES.md"),
  `decode-shapes-threads-${THREADS}`,
  "packages/backend-llamacpp/scripts/decode-shapes.ts",
  body,
);
log(`wrote the "llama_decode cost by batch shape" section of ${join(setup.out, "ENGINES.md")}`);
