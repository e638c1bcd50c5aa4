/**
 * Steering overhead at batch 1 (issue 13): process CPU time per decoded token of one generation
 * steered by a vector with non-zero rows on every layer 1..L-1, against the same generation
 * unsteered, in interleaved pairs (the order alternates pair by pair, so a drift of the machine's
 * load hits both sides alike). Per pair the ratio steered / unsteered; the mean ratio and its 95 %
 * interval (Student t) are judged on the interval's upper bound against the targets (llama.cpp
 * ≤ 1.01, ONNX ≤ 1.03). Default model, greedy, fp32 ONNX export.
 *
 *   node_modules/.bin/tsx --conditions=@emosteer/source packages/engine-parity/scripts/steering-overhead.ts [--pairs 30] [--tokens 48] [--threads 1] [--engines llama_cpp,onnx] [--dry]
 *
 * CPU time is process.cpuUsage() (user + system of every thread of this process, llama.cpp's and
 * onnxruntime's worker threads included), read at the first generated token and at the last, so
 * the prompt pass is left out: decode work only, divided by the tokens decoded in between. CPU
 * time rather than wall time because the machine is shared; one thread by default, because with
 * more, threads spinning at barriers while a sibling is descheduled count as CPU time.
 * Writes benchmarks/engines.json keys overhead.<engine> and the "Steering overhead at batch 1"
 * section of benchmarks/ENGINES.md (other keys and sections are kept).
 */
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { createOnnxBackend } from "@emosteer/backend-onnx";
import type { SteeringBackend, SteeringSpec } from "@emosteer/core";
import { writeJsonKey, writeMarkdownSection } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { benchSteering } from "../src/bench-steering.js";

const { values } = parseArgs({
  options: {
    pairs: { type: "string", default: "30" },
    tokens: { type: "string", default: "48" },
    threads: { type: "string", default: "1" },
    engines: { type: "string", default: "llama_cpp,onnx" },
    model: { type: "string", default: "smollm2-135m-instruct" },
    // Measure and print only (a smoke run): nothing is written.
    dry: { type: "boolean", default: false },
  },
});
const PAIRS = Number(values.pairs);
const TOKENS = Number(values.tokens);
const THREADS = Number(values.threads);
const ENGINES = values.engines!.split(",").map((e) => e.trim()) as EngineKey[];
if (!(PAIRS >= 3) || !(TOKENS >= 4) || !(THREADS >= 1))
  throw new Error("--pairs must be ≥ 3, --tokens ≥ 4 and --threads ≥ 1 (the interval needs pairs, the per-token time tokens).");

type EngineKey = "llama_cpp" | "onnx";
const TARGETS: Record<EngineKey, number> = { llama_cpp: 1.01, onnx: 1.03 };
const NAMES: Record<EngineKey, string> = { llama_cpp: "llama.cpp", onnx: "ONNX (fp32)" };
for (const e of ENGINES) if (!(e in TARGETS)) throw new Error(`unknown engine "${e}" in --engines: use llama_cpp and/or onnx.`);

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const COMMAND = `node_modules/.bin/tsx --conditions=@emosteer/source packages/engine-parity/scripts/steering-overhead.ts --pairs ${PAIRS} --tokens ${TOKENS} --threads ${THREADS}`;
const log = (s: string) => process.stderr.write(`[steering-overhead] ${s}\n`);

interface Sample {
  cpuMsPerToken: number;
  wallMsPerToken: number;
  tokens: number;
}

/** One greedy generation; CPU and wall time from its first generated token to its last. */
async function decodeCost(backend: SteeringBackend, prompt: string, steering: SteeringSpec | null): Promise<Sample> {
  let first: { cpu: NodeJS.CpuUsage; wall: number } | null = null;
  let last: { cpu: NodeJS.CpuUsage; wall: number } | null = null;
  let tokens = 0;
  await backend.generate(prompt, {
    maxTokens: TOKENS,
    steering,
    onToken: ({ token }) => {
      if (token === -1) return;
      tokens++;
      const now = { cpu: process.cpuUsage(), wall: performance.now() };
      if (first === null) first = now;
      last = now;
    },
  });
  const a = first as { cpu: NodeJS.CpuUsage; wall: number } | null;
  const b = last as { cpu: NodeJS.CpuUsage; wall: number } | null;
  if (!a || !b || tokens < 3) throw new Error(`only ${tokens} tokens were generated: use a prompt that makes the model write more.`);
  const decoded = tokens - 1;
  const cpuMs = (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / 1000;
  return { cpuMsPerToken: cpuMs / decoded, wallMsPerToken: (b.wall - a.wall) / decoded, tokens: decoded };
}

/** The two-sided 95 % quantile of Student's t with `df` degrees of freedom (Cornish–Fisher, ≤ 1e-3 off for df ≥ 3). */
function t975(df: number): number {
  const z = 1.959963985;
  const [z3, z5, z7] = [z ** 3, z ** 5, z ** 7];
  return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df ** 2) + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df ** 3);
}

function meanInterval(xs: readonly number[]): { mean: number; low: number; high: number } {
  const n = xs.length;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const half = (t975(n - 1) * sd) / Math.sqrt(n);
  return { mean, low: mean - half, high: mean + half };
}

const round = (x: number, digits = 4) => Number(x.toFixed(digits));

async function open(engine: EngineKey, modelPath: string): Promise<SteeringBackend> {
  if (engine === "llama_cpp") return createLlamaCppBackend({ modelPath, contextSize: 1024, threads: THREADS });
  return createOnnxBackend({ modelPath, precision: "fp32", threads: THREADS, contextSize: 1024 });
}

async function measure(engine: EngineKey, modelPath: string) {
  const backend = await open(engine, modelPath);
  try {
    const prompt = backend.formatChat([{ role: "user", content: "Write a long story about a lighthouse keeper and a storm." }]);
    const steering = benchSteering(backend, 7);
    for (let w = 0; w < 2; w++) {
      await decodeCost(backend, prompt, null); // warm-up: caches, allocator, JIT
      await decodeCost(backend, prompt, steering);
    }
    const ratios: number[] = [];
    const wallRatios: number[] = [];
    const plainCpu: number[] = [];
    const steeredCpu: number[] = [];
    let tokens = 0;
    for (let i = 0; i < PAIRS; i++) {
      // Alternating order: plain first in even pairs, steered first in odd ones.
      let plain: Sample;
      let steered: Sample;
      if (i % 2 === 0) {
        plain = await decodeCost(backend, prompt, null);
        steered = await decodeCost(backend, prompt, steering);
      } else {
        steered = await decodeCost(backend, prompt, steering);
        plain = await decodeCost(backend, prompt, null);
      }
      ratios.push(steered.cpuMsPerToken / plain.cpuMsPerToken);
      wallRatios.push(steered.wallMsPerToken / plain.wallMsPerToken);
      plainCpu.push(plain.cpuMsPerToken);
      steeredCpu.push(steered.cpuMsPerToken);
      tokens += plain.tokens + steered.tokens;
      if ((i + 1) % 5 === 0) log(`${NAMES[engine]}: ${i + 1}/${PAIRS} pairs, last ratio ${ratios.at(-1)!.toFixed(4)}`);
    }
    const cpu = meanInterval(ratios);
    const wall = meanInterval(wallRatios);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    return {
      pairs: PAIRS,
      max_tokens: TOKENS,
      threads: THREADS,
      decoded_tokens: tokens,
      cpu_ratio_mean: round(cpu.mean),
      cpu_ratio_ci95_low: round(cpu.low),
      cpu_ratio_ci95_high: round(cpu.high),
      target_ratio_max: TARGETS[engine],
      met: cpu.high <= TARGETS[engine],
      wall_ratio_mean: round(wall.mean),
      wall_ratio_ci95_high: round(wall.high),
      unsteered_cpu_ms_per_token: round(mean(plainCpu), 3),
      steered_cpu_ms_per_token: round(mean(steeredCpu), 3),
    };
  } finally {
    await backend.dispose();
  }
}

const { path: modelPath } = await ensureModel(values.model!);
const loadBefore = loadavg().map((x) => round(x, 2));
const started = new Date().toISOString();
log(`${values.model}: ${PAIRS} pairs × ${TOKENS} tokens, ${THREADS} thread(s), load ${loadBefore.join(" ")}`);
const results: Partial<Record<EngineKey, Awaited<ReturnType<typeof measure>>>> = {};
for (const engine of ENGINES) {
  results[engine] = await measure(engine, modelPath);
  const r = results[engine]!;
  log(
    `${NAMES[engine]}: CPU ratio ${r.cpu_ratio_mean} [${r.cpu_ratio_ci95_low}, ${r.cpu_ratio_ci95_high}] (target ≤ ${r.target_ratio_max} on the upper bound: ${r.met ? "met" : "not met"})`,
  );
}
const loadAfter = loadavg().map((x) => round(x, 2));
if (values.dry) process.exit(0);

const jsonPath = join(repoRoot, "benchmarks", "engines.json");
for (const engine of ENGINES)
  await writeJsonKey(jsonPath, `overhead.${engine}`, {
    ...results[engine],
    model: values.model,
    date: started,
    load_before: loadBefore,
    load_after: loadAfter,
  });

const pct = (ratio: number) => `${ratio >= 1 ? "+" : ""}${((ratio - 1) * 100).toFixed(2)} %`;
const rows = ENGINES.map((engine) => {
  const r = results[engine]!;
  return `| ${NAMES[engine]} | ${r.pairs} | ${r.unsteered_cpu_ms_per_token} / ${r.steered_cpu_ms_per_token} | ${r.cpu_ratio_mean} (${pct(r.cpu_ratio_mean)}) | [${r.cpu_ratio_ci95_low}, ${r.cpu_ratio_ci95_high}] | ≤ ${r.target_ratio_max} | ${r.met ? "**met**" : "not met"} | ${r.wall_ratio_mean} |`;
});
await writeMarkdownSection(
  join(repoRoot, "benchmarks", "ENGINES.md"),
  "steering-overhead",
  "packages/engine-parity/scripts/steering-overhead.ts",
  `## Steering overhead at batch 1

\`${COMMAND}\` (one run, ${started.slice(0, 16)} UTC, ${values.model}, greedy, ${TOKENS} tokens per generation,
${THREADS} thread(s); load average ${loadBefore.join(" / ")} before, ${loadAfter.join(" / ")} after, on 2 shared cores).
Each pair is one generation unsteered and one steered by a vector with a non-zero row on every layer
1..L-1 (order alternating pair by pair); the figure is process CPU time per decoded token from the
first generated token to the last (prompt pass excluded). Ratio = steered / unsteered per pair; mean
and 95 % Student-t interval over the pairs; the target is judged on the interval's upper bound.

| engine | pairs | CPU ms/token unsteered / steered | mean ratio | 95 % interval | target | | wall ratio (load-sensitive) |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join("\n")}

llama.cpp's steered generation adds the control vector in the graph (one \`ggml_add\` of an
\`n_embd\` row per steered layer); the ONNX graph adds its \`steering\` input on every run, zeros when
unsteered, so its steered and unsteered runs execute the same graph on other values (and the
steered one writes other tokens): a difference measured there is not extra graph work, and this
run does not explain it.`,
);
log(`wrote overhead.{${ENGINES.join(",")}} to benchmarks/engines.json and the section to benchmarks/ENGINES.md`);
