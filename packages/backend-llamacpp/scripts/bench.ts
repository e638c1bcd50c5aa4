// Benchmark of the llama.cpp backend, ratios measured in one run:
//   - time to extract the five core EVs from the fixed contrast corpus (core's extractEmotionVectors)
//   - decode tokens/s unsteered vs with a five-emotion mix installed (interleaved runs)
//   - prompt evaluation tokens/s (generate with maxTokens 0: one logit row) on a ~110-token chat text
//   - capture cost: captureResiduals (all layers) vs evaluateLogits on the same tokens
//   - CPU time (user + system of this process) next to wall time: with other jobs on the machine the
//     wall time says how much CPU we got, the CPU time how much work we did
// Compare with llama.cpp's own `llama-bench -t <threads> -p 128 -n 64` on the same GGUF.
// Usage (repo root): npx tsx --conditions=@emosteer/source packages/backend-llamacpp/scripts/bench.ts [--model ID] [--runs N] [--tokens N] [--queries N] [--threads N] [--label NAME]
// (--queries: contrast-corpus queries used for extraction; defaults to all of them)
// Writes benchmarks/backend-llamacpp/<model>-<date>[-<label>].json (--label) and prints a summary.
import { mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CORE_EMOTIONS, extractEmotionVectors, steeringFromWeights, type SteeringBackend, type SteeringSpec } from "@emosteer/core";
import { writeFileAtomic } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { createLlamaCppBackend } from "../src/index.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "smollm2-135m-instruct" },
    runs: { type: "string", default: "4" },
    tokens: { type: "string", default: "96" },
    threads: { type: "string" },
    queries: { type: "string" },
    label: { type: "string" },
  },
});
const runs = Number(values.runs);
const maxTokens = Number(values.tokens);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cpuSeconds = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6;

async function decodeRate(backend: SteeringBackend, prompt: string, steering: SteeringSpec | null): Promise<number> {
  const g = await backend.generate(prompt, { maxTokens, steering });
  return g.timings.generatedTokens / (g.timings.decodeMs / 1000);
}

async function main() {
  const local = await ensureModel(values.model!);
  const threads = values.threads ? Number(values.threads) : undefined;
  console.log(`model ${local.id} (${local.path}), ${os.availableParallelism()} cores, threads ${threads ?? "default"}`);
  const backend = await createLlamaCppBackend({ modelPath: local.path, contextSize: 2048, ...(threads ? { threads } : {}) });
  try {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let captures = 0;
    let last = "";
    const vectors = await extractEmotionVectors(backend, {
      corpus: "fixed",
      ...(values.queries ? { maxQueries: Number(values.queries) } : {}),
      onProgress: ({ phase, done, total }) => {
        if (phase === "capture") captures++;
        const line = `  extract: ${phase} ${done}/${total}`;
        if (line !== last && (done === total || done % 20 === 0)) {
          last = line;
          console.log(line);
        }
      },
    });
    const extractSeconds = (performance.now() - t0) / 1000;
    const extractCpuSeconds = cpuSeconds(process.cpuUsage(cpu0));
    console.log(
      `extracted ${[...vectors.keys()].join(", ")} in ${extractSeconds.toFixed(1)} s (CPU ${extractCpuSeconds.toFixed(1)} s): ` +
        `${captures} captures, ${((1000 * extractSeconds) / captures).toFixed(0)} ms each (CPU ${((1000 * extractCpuSeconds) / captures).toFixed(0)} ms)`,
    );

    const mix = steeringFromWeights(vectors, Object.fromEntries(CORE_EMOTIONS.map((e) => [e, 0.4])));
    const prompt = backend.formatChat([{ role: "user", content: "Write a long story about a lighthouse keeper and a storm." }]);
    await backend.generate(prompt, { maxTokens: 8 }); // warm-up
    const plain: number[] = [];
    const steered: number[] = [];
    for (let r = 0; r < runs; r++) {
      // Interleaved so that load from other processes hits both alike.
      plain.push(await decodeRate(backend, prompt, null));
      steered.push(await decodeRate(backend, prompt, mix));
    }

    const sample = await backend.tokenize(
      prompt + "Once upon a time, on a rocky island far from the coast, there lived an old lighthouse keeper named Tom.",
    );
    const sampleText = await backend.detokenize(sample);
    const captureTimes: number[] = [];
    const plainTimes: number[] = [];
    const promptTimes: number[] = [];
    const captureCpu: number[] = [];
    const promptCpu: number[] = [];
    for (let r = 0; r < runs; r++) {
      let t = performance.now();
      let c = process.cpuUsage();
      await backend.captureResiduals({ tokens: sample, spanStart: 0, spanEnd: sample.length });
      captureTimes.push(performance.now() - t);
      captureCpu.push(1000 * cpuSeconds(process.cpuUsage(c)));
      t = performance.now();
      await backend.evaluateLogits({ tokens: sample });
      plainTimes.push(performance.now() - t);
      c = process.cpuUsage();
      const g = await backend.generate(sampleText, { maxTokens: 0 });
      promptTimes.push(g.timings.promptMs);
      promptCpu.push(1000 * cpuSeconds(process.cpuUsage(c)));
    }

    const result = {
      engine: "llama.cpp",
      model: local.id,
      date: new Date().toISOString(),
      cores: os.availableParallelism(),
      load: os.loadavg()[0]!,
      threads: threads ?? "default",
      extractFiveEvsSeconds: extractSeconds,
      extractFiveEvsCpuSeconds: extractCpuSeconds,
      extractQueries: values.queries ? Number(values.queries) : "all",
      extractCaptures: captures,
      msPerCapture: (1000 * extractSeconds) / captures,
      cpuMsPerCapture: (1000 * extractCpuSeconds) / captures,
      sampleTokens: sample.length,
      promptTokensPerSecond: sample.length / (median(promptTimes) / 1000),
      promptCpuMs: median(promptCpu),
      captureCpuMs: median(captureCpu),
      decodeTokensPerSecond: {
        unsteered: median(plain),
        fiveEmotionMix: median(steered),
        ratio: median(steered) / median(plain),
        runs,
        maxTokens,
      },
      captureAllLayersTokensPerSecond: sample.length / (median(captureTimes) / 1000),
      evaluateTokensPerSecond: sample.length / (median(plainTimes) / 1000),
      captureOverhead: median(captureTimes) / median(plainTimes) - 1,
      loadAfter: os.loadavg()[0]!,
      raw: { plain, steered, captureMs: captureTimes, evaluateMs: plainTimes, promptMs: promptTimes },
    };
    const out = path.join(
      repoRoot,
      "benchmarks",
      "backend-llamacpp",
      `${local.id}-${result.date.slice(0, 10)}${values.label ? `-${values.label}` : ""}.json`,
    );
    await mkdir(path.dirname(out), { recursive: true });
    await writeFileAtomic(out, JSON.stringify(result, null, 2) + "\n");
    console.log(
      `decode tok/s: unsteered ${median(plain).toFixed(1)}, 5-emotion mix ${median(steered).toFixed(1)} (ratio ${result.decodeTokensPerSecond.ratio.toFixed(3)})`,
    );
    console.log(
      `capture (all ${backend.model.layerCount} layers, ${sample.length} tokens): ${result.captureAllLayersTokensPerSecond.toFixed(0)} tok/s vs ` +
        `${result.evaluateTokensPerSecond.toFixed(0)} tok/s plain (overhead ${(100 * result.captureOverhead).toFixed(1)} %)`,
    );
    console.log(
      `prompt eval (${sample.length} tokens): ${result.promptTokensPerSecond.toFixed(0)} tok/s (CPU ${result.promptCpuMs.toFixed(0)} ms); ` +
        `capture ${median(captureTimes).toFixed(0)} ms (CPU ${result.captureCpuMs.toFixed(0)} ms); load ${result.load.toFixed(2)} → ${result.loadAfter.toFixed(2)}`,
    );
    console.log(`wrote ${path.relative(repoRoot, out)}`);
  } finally {
    await backend.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
