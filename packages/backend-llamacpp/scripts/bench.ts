// Benchmark of the llama.cpp backend, ratios measured in one run:
//   - time to extract the five core EVs from the fixed contrast corpus (core's extractEmotionVectors)
//   - decode tokens/s unsteered vs with a five-emotion mix installed (interleaved runs)
//   - capture cost: captureResiduals (all layers) vs evaluateLogits on the same tokens (both request
//     logits for every position, so the difference is the eval callback copying l_out rows)
// Usage (repo root): npx tsx --conditions=@emosteer/source packages/backend-llamacpp/scripts/bench.ts [--model ID] [--runs N] [--tokens N] [--queries N]
// (--queries: contrast-corpus queries used for extraction; defaults to all of them)
// Writes benchmarks/backend-llamacpp/<model>-<date>.json and prints a summary.
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
  },
});
const runs = Number(values.runs);
const maxTokens = Number(values.tokens);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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
    let last = "";
    const vectors = await extractEmotionVectors(backend, {
      corpus: "fixed",
      ...(values.queries ? { maxQueries: Number(values.queries) } : {}),
      onProgress: ({ phase, done, total }) => {
        const line = `  extract: ${phase} ${done}/${total}`;
        if (line !== last && (done === total || done % 20 === 0)) console.log((last = line));
      },
    });
    const extractSeconds = (performance.now() - t0) / 1000;
    console.log(`extracted ${[...vectors.keys()].join(", ")} in ${extractSeconds.toFixed(1)} s`);

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

    const sample = await backend.tokenize(prompt + "Once upon a time, on a rocky island far from the coast, there lived an old lighthouse keeper named Tom.");
    const captureTimes: number[] = [];
    const plainTimes: number[] = [];
    for (let r = 0; r < runs; r++) {
      let t = performance.now();
      await backend.captureResiduals({ tokens: sample, spanStart: 0, spanEnd: sample.length });
      captureTimes.push(performance.now() - t);
      t = performance.now();
      await backend.evaluateLogits({ tokens: sample });
      plainTimes.push(performance.now() - t);
    }

    const result = {
      engine: "llama.cpp",
      model: local.id,
      date: new Date().toISOString(),
      cores: os.availableParallelism(),
      load: os.loadavg()[0],
      extractFiveEvsSeconds: extractSeconds,
      extractQueries: values.queries ? Number(values.queries) : "all",
      decodeTokensPerSecond: { unsteered: median(plain), fiveEmotionMix: median(steered), ratio: median(steered) / median(plain), runs, maxTokens },
      captureAllLayersTokensPerSecond: sample.length / (median(captureTimes) / 1000),
      evaluateTokensPerSecond: sample.length / (median(plainTimes) / 1000),
      captureOverhead: median(captureTimes) / median(plainTimes) - 1,
      raw: { plain, steered, captureMs: captureTimes, evaluateMs: plainTimes },
    };
    const out = path.join(repoRoot, "benchmarks", "backend-llamacpp", `${local.id}-${result.date.slice(0, 10)}.json`);
    await mkdir(path.dirname(out), { recursive: true });
    await writeFileAtomic(out, JSON.stringify(result, null, 2) + "\n");
    console.log(`decode tok/s: unsteered ${median(plain).toFixed(1)}, 5-emotion mix ${median(steered).toFixed(1)} (ratio ${result.decodeTokensPerSecond.ratio.toFixed(3)})`);
    console.log(
      `capture (all ${backend.model.layerCount} layers, ${sample.length} tokens): ${result.captureAllLayersTokensPerSecond.toFixed(0)} tok/s vs ` +
        `${result.evaluateTokensPerSecond.toFixed(0)} tok/s plain (overhead ${(100 * result.captureOverhead).toFixed(1)} %)`,
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
