import { parseArgs } from "node:util";
import { CORE_EMOTIONS, EmosteerError, InvalidFileError, isCoreEmotion, Steerer, type Emotion, type EmotionVector, type ModelInfo } from "@emosteer/core";
import { existsSync } from "node:fs";
import { cachedEmotionVectors, loadVectorFile, readModelInfo } from "@emosteer/core/node";
import type { Command } from "./command.js";
import { ENGINE_HELP, ENGINE_OPTIONS, modelFile, openEngine, parseEngineOptions } from "./engine-options.js";
import { parseCorpus, parseInteger, parseMethod, parseNumber, parseWeights } from "./option-values.js";
import { progressBar, progressLine } from "../progress.js";
import { UsageError } from "../usage-error.js";

const HELP = `Usage: emosteer generate [--model ID] [--backend NAME] [--steer joy=1.5,fear=-1] [--vector FILE ...]
                         [--method M] [--corpus fixed|self] [--max-queries N] [--vector-cache DIR]
                         [--max-tokens N] [--temperature T] [--seed S] PROMPT

Answers PROMPT with the emotions given by --steer (α per emotion; 1 reproduces the measured
shift, 2 doubles it, negative suppresses). Vectors come from the cache (extracted on first use,
as "emosteer extract" would with the same --method, --corpus and --max-queries) or from --vector
files (control-vector GGUF written by "emosteer extract --out"); a file made for another model is
refused.

${ENGINE_HELP}
  --steer LIST          emotion=α pairs, comma-separated; without it the answer is unsteered
  --vector FILE         use this vector file instead of the cache (repeat for several emotions)
  --method M, --corpus C, --max-queries N   which cached vectors to use (see "emosteer extract --help")
  --max-tokens N        longest answer in tokens (default 128)
  --temperature T       0 (default) decodes greedily; above 0 samples
  --seed S              sampling seed, an integer from 0 to 4294967295 (default 0)`;

export const generate: Command = {
  summary: "answer a prompt steered by emotions, e.g. --steer joy=1.5,fear=-1",
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...ENGINE_OPTIONS,
        steer: { type: "string" },
        vector: { type: "string", multiple: true },
        method: { type: "string", default: "mean-diff" },
        corpus: { type: "string", default: "fixed" },
        "max-queries": { type: "string" },
        "max-tokens": { type: "string", default: "128" },
        temperature: { type: "string", default: "0" },
        seed: { type: "string", default: "0" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const prompt = positionals.join(" ").trim();
    if (!prompt) throw new UsageError(`generate needs a PROMPT, e.g. emosteer generate --steer joy=1.5 "How do I bake bread?"`);
    const engine = parseEngineOptions(values);
    const weights = parseWeights(values.steer);
    const method = parseMethod(values.method);
    const corpus = parseCorpus(values.corpus);
    const maxQueries = values["max-queries"] === undefined ? undefined : parseInteger("max-queries", values["max-queries"], 2);
    const maxTokens = parseInteger("max-tokens", values["max-tokens"], 1);
    const temperature = parseNumber("temperature", values.temperature, 0);
    const seed = parseInteger("seed", values.seed, 0, 2 ** 32 - 1);
    const vectorFiles = values.vector ?? [];
    const steered = Object.keys(weights);
    if (vectorFiles.length === 0) {
      for (const emotion of steered) {
        if (!isCoreEmotion(emotion)) throw new UsageError(`--steer: unknown emotion "${emotion}"; choose from ${CORE_EMOTIONS.join(", ")}, or pass its --vector FILE`);
      }
    }
    for (const path of vectorFiles) if (!existsSync(path)) throw new UsageError(`--vector: no such file "${path}"`);

    const modelPath = await modelFile(engine);
    let vectors = new Map<Emotion, EmotionVector>();
    if (vectorFiles.length > 0) {
      // Checked against the model file before the engine loads (an ONNX export can take minutes), so a wrong file fails at once.
      const model = await readModelInfo(modelPath);
      for (const path of vectorFiles) {
        const vector = await loadVector(path, model);
        if (vectors.has(vector.emotion)) throw new UsageError(`--vector: two files hold "${vector.emotion}"; pass one per emotion`);
        vectors.set(vector.emotion, vector);
      }
      const missing = steered.filter((e) => !vectors.has(e));
      if (missing.length > 0) throw new UsageError(`--steer: no --vector file holds ${missing.map((e) => `"${e}"`).join(", ")}; the files hold ${[...vectors.keys()].join(", ")}`);
    }
    await using backend = await openEngine(engine, modelPath);
    if (vectorFiles.length === 0 && steered.length > 0) {
      const started = Date.now();
      vectors = await cachedEmotionVectors(backend, {
        emotions: steered,
        method,
        corpus,
        ...(maxQueries !== undefined ? { maxQueries } : {}),
        ...(engine.vectorCache !== undefined ? { cacheDir: engine.vectorCache } : {}),
        onProgress: (p) => progressLine(progressBar(p.done, p.total, started, `extracting (${p.phase}) `)),
      });
      progressLine("");
    }
    const steerer = await Steerer.create(backend, { vectors });
    await steerer.generate(prompt, weights, {
      maxTokens,
      temperature,
      seed,
      onToken: (t) => process.stdout.write(t.text),
    });
    process.stdout.write("\n");
    return 0;
  },
};

/** Core's checks (format, model fingerprint, shape) with the file named, so it is clear which --vector is wrong. */
async function loadVector(path: string, model: ModelInfo): Promise<EmotionVector> {
  try {
    return await loadVectorFile(path, { expectedModel: model });
  } catch (error) {
    // InvalidFileError and file-system errors already carry the path.
    if (error instanceof EmosteerError && !(error instanceof InvalidFileError)) throw new EmosteerError(`--vector ${path}: ${error.message}`, { cause: error });
    throw error;
  }
}
