// Issue 17: vectors are portable across engines, so extraction may run on whichever engine
// evaluates prompts fastest. This measures how portable: the five core EVs of one model extracted
// on every engine from the same contrast pairs (the full fixed corpus, as `pnpm demo` does; cached
// ones are reused), and the per-layer cosine of each engine pair.
//   pnpm --filter @emosteer/bench cross-engine-vectors [-- --model smollm2-135m-instruct]
// Writes benchmarks/engines.json "crossEngineVectors" and "speed.cross_engine_cosine_min", and
// the "cross-engine-vectors" section of benchmarks/ENGINES.md.
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CORE_EMOTIONS, cosineSimilarity, type EmotionVector } from "@emosteer/core";
import { cachedEmotionVectors, writeJsonKey, writeMarkdownSection } from "@emosteer/core/node";
import { openBackend } from "@emosteer/backends";
import { DEFAULT_MODEL_ID, ensureModel } from "@emosteer/models";

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === "--")),
  options: { model: { type: "string", default: DEFAULT_MODEL_ID } },
});
const ENGINES = ["llama.cpp", "onnx", "transformers.js"] as const;
const benchmarks = join(import.meta.dirname, "..", "..", "..", "benchmarks");
const log = (line: string) => process.stderr.write(`[cross-engine-vectors] ${line}\n`);

const { path } = await ensureModel(values.model!);
const vectors = new Map<string, Map<string, EmotionVector>>();
const extraction: Record<string, { seconds: number | null; pairs: number | null; cached: boolean }> = {};
for (const engine of ENGINES) {
  log(`${engine}: loading ${values.model}`);
  const backend = await openBackend(engine, { modelPath: path });
  try {
    let seconds: number | null = null;
    let pairs: number | null = null;
    let last = -1;
    const found = await cachedEmotionVectors(backend, {
      onProgress: (p) => {
        const pct = Math.floor((100 * p.done) / p.total);
        if (pct < last + 10) return;
        log(`${engine}: extracting ${pct} % (${p.done}/${p.total})`);
        last = pct;
      },
      onExtracted: (batch) => {
        seconds = batch.seconds;
        pairs = batch.queries;
      },
    });
    vectors.set(engine, found);
    extraction[engine] = { seconds, pairs, cached: seconds === null };
    log(`${engine}: ${seconds === null ? "vectors from the cache" : `extracted in ${(seconds as number).toFixed(0)} s`}`);
  } finally {
    await backend.dispose();
  }
}

interface PairFigures {
  readonly a: string;
  readonly b: string;
  /** Per emotion: the lowest and the mean per-layer cosine over the steered layers 1..L−1. */
  readonly emotions: Record<string, { readonly min: number; readonly mean: number; readonly minLayer: number }>;
  readonly min: number;
}
const pairs: PairFigures[] = [];
for (let i = 0; i < ENGINES.length; i++)
  for (let j = i + 1; j < ENGINES.length; j++) {
    const [a, b] = [ENGINES[i]!, ENGINES[j]!];
    const emotions: PairFigures["emotions"] = {};
    for (const emotion of CORE_EMOTIONS) {
      const va = vectors.get(a)!.get(emotion)!;
      const vb = vectors.get(b)!.get(emotion)!;
      const cos = va.directions.slice(1).map((d, l) => cosineSimilarity(d, vb.directions[l + 1]!));
      const min = Math.min(...cos);
      emotions[emotion] = { min: round(min), mean: round(cos.reduce((s, x) => s + x, 0) / cos.length), minLayer: cos.indexOf(min) + 1 };
    }
    pairs.push({ a, b, emotions, min: Math.min(...Object.values(emotions).map((e) => e.min)) });
  }
const overall = Math.min(...pairs.map((p) => p.min));
const measuredAt = new Date().toISOString();
const command = `pnpm --filter @emosteer/bench cross-engine-vectors -- --model ${values.model}`;
await writeJsonKey(join(benchmarks, "engines.json"), "crossEngineVectors", {
  command,
  measuredAt,
  loadAverage: loadavg().map((x) => +x.toFixed(1)),
  model: values.model,
  extraction,
  pairs,
});
await writeJsonKey(join(benchmarks, "engines.json"), "speed.cross_engine_cosine_min", overall);
await writeMarkdownSection(
  join(benchmarks, "ENGINES.md"),
  "cross-engine-vectors",
  "apps/bench/scripts/cross-engine-vectors.ts",
  [
    "## The same vectors from every engine",
    "",
    `Produced by \`${command}\` (${measuredAt.slice(0, 10)}). The five core EVs of ${values.model} from the same ${vectors.get("llama.cpp")!.get("joy")!.provenance.samples} contrast pairs of the fixed corpus, extracted on each engine (${ENGINES.map((e) => `${e}: ${extraction[e]!.cached ? "from the vector cache" : `${extraction[e]!.seconds!.toFixed(0)} s`}`).join(", ")}; llama.cpp on the GGUF, ONNX and transformers.js on the exporter's fp32 folder), compared layer by layer (cosine over blocks 1..L−1). Issue 17's target: ≥ 0.98 on every layer (\`speed.cross_engine_cosine_min\` = **${overall.toFixed(5)}**, ${overall >= 0.98 ? "met" : "not met"}), so vectors extracted on the engine with the fastest prompt path serve every engine.`,
    "",
    `| engines | ${CORE_EMOTIONS.map((e) => `${e}: min (layer) / mean`).join(" | ")} |`,
    `| --- | ${CORE_EMOTIONS.map(() => "---").join(" | ")} |`,
    ...pairs.map(
      (p) =>
        `| ${p.a} vs ${p.b} | ${CORE_EMOTIONS.map((e) => `${p.emotions[e]!.min.toFixed(5)} (${p.emotions[e]!.minLayer}) / ${p.emotions[e]!.mean.toFixed(5)}`).join(" | ")} |`,
    ),
  ].join("\n"),
);
log(`lowest per-layer cosine ${overall.toFixed(5)}; wrote benchmarks/engines.json and the ENGINES.md section`);

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
