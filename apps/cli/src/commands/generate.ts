import { parseArgs } from "node:util";
import { Steerer, type Emotion, type EmotionVector, type Injection } from "@emosteer/core";
import { cachedEmotionVectors, readModelInfo } from "@emosteer/core/node";
import type { Command } from "./command.js";
import { extractionProgress } from "./emotion-vectors.js";
import { assertKnown, EMOTION_FILE_HELP, readEmotionFiles } from "./emotion-files.js";
import { ENGINE_HELP, ENGINE_OPTIONS, modelFile, openEngine, parseEngineOptions } from "./engine-options.js";
import { parseCorpus, parseInjection, parseInteger, parseMethod, parseNumber, parseWeights } from "./option-values.js";
import { describeImport, loadVectorArgument, parseVectorArgument, VECTOR_HELP, type LoadedVector } from "./vector-files.js";
import { progressLine } from "../progress.js";
import { UsageError } from "../usage-error.js";

const HELP = `Usage: emosteer generate [--model ID] [--backend NAME] [--steer joy=1.5,fear=-1] [--vector [EMOTION=]FILE ...]
                         [--emotion-file FILE ...] [--injection net-shift|per-layer] [--method M]
                         [--corpus fixed|fixed-v2|self] [--max-queries N] [--vector-cache DIR]
                         [--max-tokens N] [--temperature T] [--seed S] PROMPT

Answers PROMPT with the emotions given by --steer (α per emotion; 1 reproduces the measured
shift, 2 doubles it, negative suppresses). Each emotion's vector comes from a --vector file
when one holds it, else from the cache (extracted on first use, as "emosteer extract" would with
the same --method, --corpus, --max-queries and --emotion-file). A file made for another model is
refused.

${ENGINE_HELP}
  --steer LIST          emotion=α pairs, comma-separated; without it the answer is unsteered
${VECTOR_HELP}
${EMOTION_FILE_HELP}
  --injection I         net-shift (default for emosteer's vectors: α·EV[l] is the total shift at
                        layer l) or per-layer (α·EV[l] added at every layer; the default when the
                        steered vectors come from other tools' files)
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
        "emotion-file": { type: "string", multiple: true },
        injection: { type: "string" },
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
    const chosenInjection = values.injection === undefined ? undefined : parseInjection(values.injection);
    const userEmotions = readEmotionFiles(values["emotion-file"]);
    const vectorArguments = (values.vector ?? []).map(parseVectorArgument);
    const steered = Object.keys(weights);
    // Which emotion an unnamed file holds is known only once it is read, so names are checked here
    // only when every steered emotion must come from the cache.
    const named = new Set(vectorArguments.map((a) => a.emotion));
    if (vectorArguments.every((a) => a.emotion !== undefined)) {
      for (const emotion of steered) if (!named.has(emotion)) assertKnown("--steer", emotion, userEmotions, ", or pass its --vector FILE");
    }

    const modelPath = await modelFile(engine);
    const fromFiles = new Map<Emotion, LoadedVector>();
    if (vectorArguments.length > 0) {
      // Checked against the model file before the engine loads (an ONNX export can take minutes), so a wrong file fails at once.
      const model = await readModelInfo(modelPath);
      for (const argument of vectorArguments) {
        const loaded = await loadVectorArgument(argument, model);
        if (fromFiles.has(loaded.vector.emotion))
          throw new UsageError(`--vector: two files hold "${loaded.vector.emotion}"; pass one per emotion`);
        fromFiles.set(loaded.vector.emotion, loaded);
      }
      for (const emotion of steered) {
        if (!fromFiles.has(emotion))
          assertKnown("--steer", emotion, userEmotions, `; the --vector files hold ${[...fromFiles.keys()].join(", ")}`);
      }
    }
    const injection = chooseInjection(
      steered.filter((e) => fromFiles.has(e)).map((e) => fromFiles.get(e)!),
      steered.filter((e) => !fromFiles.has(e)),
      chosenInjection,
    );

    await using backend = await openEngine(engine, modelPath);
    const vectors = new Map<Emotion, EmotionVector>([...fromFiles].map(([emotion, loaded]) => [emotion, loaded.vector]));
    const fromCache = steered.filter((e) => !vectors.has(e));
    if (fromCache.length > 0) {
      const cached = await cachedEmotionVectors(backend, {
        emotions: fromCache,
        userEmotions,
        method,
        corpus,
        ...(maxQueries !== undefined ? { maxQueries } : {}),
        ...extractionProgress(engine.vectorCache),
      });
      progressLine("");
      for (const [emotion, vector] of cached) vectors.set(emotion, vector);
    }
    for (const emotion of steered) {
      const loaded = fromFiles.get(emotion);
      if (loaded?.foreign) console.error(describeImport(loaded, injection ?? "per-layer", chosenInjection !== undefined));
    }
    const steerer = await Steerer.create(backend, { vectors });
    await steerer.generate(prompt, weights, {
      maxTokens,
      temperature,
      seed,
      // Unset unless chosen or imposed by foreign files, so a calibrated vector's own profile applies.
      ...(injection ? { injection } : {}),
      onToken: (t) => process.stdout.write(t.text),
    });
    process.stdout.write("\n");
    return 0;
  },
};

/**
 * Files of other tools (repeng, llama-cvector-generator) mean "add direction.k at layer k", so
 * they are applied per layer unless the user chooses; emosteer's vectors keep their own (their
 * calibrated profile's, else net-shift), so no injection is imposed on them. One injection serves
 * the whole generation, so a mix of both kinds needs the user's choice.
 */
function chooseInjection(
  steeredFiles: readonly LoadedVector[],
  steeredFromCache: readonly Emotion[],
  chosen: Injection | undefined,
): Injection | undefined {
  if (chosen) return chosen;
  const foreign = steeredFiles.filter((f) => f.foreign);
  if (foreign.length === 0) return undefined;
  const ours = [...steeredFiles.filter((f) => !f.foreign).map((f) => f.vector.emotion), ...steeredFromCache];
  if (ours.length > 0) {
    throw new UsageError(
      `--steer mixes other tools' control vectors (${foreign.map((f) => f.vector.emotion).join(", ")}; applied per layer) with emosteer's (${ours.join(", ")}; net-shift): ` +
        `choose one injection for all with --injection per-layer or --injection net-shift`,
    );
  }
  return "per-layer";
}
