/**
 * How closely the ONNX exports agree with llama.cpp on the *quantized* GGUF, on this CPU. Not a
 * test: llama.cpp's quantized kernels round activations to int8 blocks and differ per instruction
 * set (tinyBLAS, repacked layouts and vec_dot variants for AVX2, AVX-512, NEON …), so these figures
 * describe one machine. The invariant the tests assert is parity on an F32 copy of the weights
 * (test/onnx-vs-llamacpp.test.ts).
 *   npx tsx --conditions=@emosteer/source packages/engine-parity/scripts/quantized-parity-bench.ts [--label L] [model-id ...]
 * Per model: top-1 agreement, max and mean |Δlogit| and max |Δ log p(next)| over the parity text's
 * 520 positions (exact export, "llama.cpp" numerics export, and llama.cpp on the F32 copy, each
 * against llama.cpp on the GGUF), and how many of 4 greedy 64-token chat continuations are
 * identical. Writes benchmarks/engines.json under "quantizedParity" → <label> (default: the CPU
 * model and its widest vector extension; a rerun on the same CPU replaces its entry) and
 * regenerates the marked section of benchmarks/ENGINES.md from all stored entries. With
 * `--render-only` it measures nothing and only regenerates that section from the stored entries.
 */
import { readFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { createOnnxBackend } from "@emosteer/backend-onnx";
import { writeJsonKey, writeMarkdownSection } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
// @ts-expect-error: a plain .mjs script without type declarations
import { buildLlamaTools } from "../../backend-llamacpp/scripts/build-llama-tools.mjs";
import { f32Gguf } from "../src/f32-gguf.js";
import { commonPrefixLength, GREEDY_PROMPTS, GREEDY_TOKENS } from "../src/greedy-parity.js";
import { compareLogits, type LogitParity } from "../src/logit-parity.js";
import { parityText, PARITY_POSITIONS } from "../src/parity-text.js";

const THREADS = 2;
const KEY = "quantizedParity";
const SECTION = "quantized-parity";
const GENERATOR = "packages/engine-parity/scripts/quantized-parity-bench.ts";
const benchmarks = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..", "..", "benchmarks");

const args = process.argv.slice(2);
const renderOnlyAt = args.indexOf("--render-only");
const renderOnly = renderOnlyAt >= 0 && args.splice(renderOnlyAt, 1).length > 0;
const labelAt = args.indexOf("--label");
const label = labelAt >= 0 ? args.splice(labelAt, 2)[1]! : await cpuLabel();
const models = args.length ? args : ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct", "gemma3-270m"];

/** "<CPU model> (<widest x86 vector extension or NEON>)", from /proc/cpuinfo where there is one. */
async function cpuLabel(): Promise<string> {
  const flags = await readFile("/proc/cpuinfo", "utf8").then(
    (t) => new Set(/^(flags|Features)\s*:(.*)$/m.exec(t)?.[2]?.trim().split(/\s+/) ?? []),
    () => new Set<string>(),
  );
  const isa = flags.has("avx512f") ? "AVX-512" : flags.has("avx2") ? "AVX2" : flags.has("asimd") ? "NEON" : "baseline";
  return `${cpus()[0]?.model.trim() ?? "unknown CPU"} (${isa}, native build)`;
}

interface Figures {
  readonly top1: number;
  readonly maxAbs: number;
  readonly meanAbs: number;
  readonly maxNextLogProb: number;
}
const figures = (p: LogitParity): Figures => ({
  top1: +p.top1Agreement.toFixed(4),
  maxAbs: +p.maxAbsDiff.toFixed(3),
  meanAbs: +p.meanAbsDiff.toFixed(4),
  maxNextLogProb: +p.maxNextTokenLogProbDiff.toFixed(3),
});

interface ModelEntry {
  readonly exact: Figures;
  readonly llamaCppNumerics: Figures;
  readonly f32Weights: Figures;
  /** Identical greedy continuations of 4, and the common prefix length of each. */
  readonly greedy: Record<"exact" | "llamaCppNumerics", { readonly identical: number; readonly commonPrefixes: number[] }>;
}

/** Measures each model against llama.cpp on its GGUF (logits, then greedy continuations). */
async function measure(ids: readonly string[]): Promise<Record<string, ModelEntry>> {
  const toolsDir: string = await buildLlamaTools();
  const results: Record<string, ModelEntry> = {};
  for (const id of ids) {
    process.stderr.write(`[quantized-parity] ${id}: logits over ${PARITY_POSITIONS} positions…\n`);
    const { path } = await ensureModel(id);
    const llama = await createLlamaCppBackend({ modelPath: path, contextSize: 1024, threads: THREADS });
    const exact = await createOnnxBackend({ modelPath: path, precision: "fp32", threads: THREADS });
    const emulated = await createOnnxBackend({ modelPath: path, precision: "fp32", numerics: "llama.cpp", threads: THREADS });
    try {
      const tokens = (await llama.tokenize(await parityText())).slice(0, PARITY_POSITIONS);
      const vocab = llama.model.vocabSize;
      const next = tokens.slice(1);
      const reference = await llama.evaluateLogits({ tokens });
      const f32 = await createLlamaCppBackend({ modelPath: await f32Gguf(path, toolsDir), contextSize: 1024, threads: THREADS });
      const f32Logits = await f32.evaluateLogits({ tokens }).finally(() => f32.dispose());
      const entry = {
        exact: figures(compareLogits(reference, await exact.logits(tokens), vocab, next)),
        llamaCppNumerics: figures(compareLogits(reference, await emulated.logits(tokens), vocab, next)),
        f32Weights: figures(compareLogits(reference, f32Logits, vocab, next)),
        greedy: {
          exact: { identical: 0, commonPrefixes: [] as number[] },
          llamaCppNumerics: { identical: 0, commonPrefixes: [] as number[] },
        },
      };
      process.stderr.write(`[quantized-parity] ${id}: greedy continuations…\n`);
      for (const question of GREEDY_PROMPTS) {
        const prompt = llama.model.chatTemplate ? llama.formatChat([{ role: "user", content: question }]) : question;
        const a = await llama.generate(prompt, { maxTokens: GREEDY_TOKENS });
        for (const [name, onnx] of [
          ["exact", exact],
          ["llamaCppNumerics", emulated],
        ] as const) {
          const b = await onnx.generate(prompt, { maxTokens: GREEDY_TOKENS });
          const common = commonPrefixLength(a.tokens, b.tokens);
          if (a.tokens.join() === b.tokens.join()) entry.greedy[name].identical++;
          entry.greedy[name].commonPrefixes.push(common);
        }
      }
      results[id] = entry;
      console.log(JSON.stringify({ model: id, ...entry }));
    } finally {
      await llama.dispose();
      await exact.dispose();
      await emulated.dispose();
    }
  }
  return results;
}

const jsonPath = join(benchmarks, "engines.json");
type Run = { measuredAt: string; loadAverage: number[]; models: Record<string, ModelEntry> };
// Measured before the file is read, so entries another run stored meanwhile are kept.
const results = renderOnly ? {} : await measure(models);
const stored = await readFile(jsonPath, "utf8").then(
  (t) => JSON.parse(t) as Record<string, unknown>,
  () => ({}) as Record<string, unknown>,
);
const runs = (stored[KEY] ?? {}) as Record<string, Run>;
if (!renderOnly) {
  // One key per CPU label, merged here rather than by a dotted key: a label may contain dots ("2.10GHz").
  runs[label] = {
    measuredAt: new Date().toISOString(),
    loadAverage: loadavg().map((x) => +x.toFixed(1)),
    models: { ...runs[label]?.models, ...results },
  };
  await writeJsonKey(jsonPath, KEY, runs);
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const cell = (f: Figures) => `${pct(f.top1)} (${f.maxAbs} / ${f.meanAbs})`;
const section = [
  "Top-1 agreement of the next-token argmax with llama.cpp on the quantized GGUF over 520 positions (max / mean |Δlogit|), and identical greedy 64-token chat continuations of 4. One table per CPU; rerun the command on another CPU to add its table.",
  ...Object.entries(runs).flatMap(([cpu, run]) => [
    "",
    `**${cpu}**, ${run.measuredAt.slice(0, 10)} (load ${run.loadAverage.join(", ")})`,
    "",
    '| model | exact export | "llama.cpp" numerics export | llama.cpp on the F32 copy | greedy identical, exact / numerics (common prefixes) |',
    "| --- | --- | --- | --- | --- |",
    ...Object.entries(run.models).map(
      ([id, e]) =>
        `| ${id} | ${cell(e.exact)} | ${cell(e.llamaCppNumerics)} | ${cell(e.f32Weights)} | ${e.greedy.exact.identical}/4, ${e.greedy.llamaCppNumerics.identical}/4 (${e.greedy.exact.commonPrefixes.join(", ")}; ${e.greedy.llamaCppNumerics.commonPrefixes.join(", ")}) |`,
    ),
  ]),
].join("\n");
const mdPath = join(benchmarks, "ENGINES.md");
await writeMarkdownSection(mdPath, SECTION, GENERATOR, section);
process.stderr.write(`[quantized-parity] ${renderOnly ? "" : `wrote ${jsonPath} ("${KEY}" → "${label}") and `}the section of ${mdPath}\n`);
