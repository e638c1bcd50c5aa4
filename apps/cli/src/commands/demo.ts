import { parseArgs } from "node:util";
import { CORE_EMOTIONS, Steerer, type EmotionWeights } from "@emosteer/core";
import { cachedEmotionVectors } from "@emosteer/core/node";
import type { Command } from "./command.js";
import { EMOTION_FILE_HELP, readEmotionFiles } from "./emotion-files.js";
import { coreEmotionVectors, extractionProgress } from "./emotion-vectors.js";
import { ENGINE_HELP, ENGINE_OPTIONS, modelFile, openEngine, parseEngineOptions } from "./engine-options.js";
import { parseInteger } from "./option-values.js";
import { progressLine } from "../progress.js";

const HELP = `Usage: emosteer demo [--model ID] [--backend NAME] [--vector-cache DIR] [--emotion-file FILE ...]
                     [--question TEXT] [--max-tokens N]

Fetches the model, extracts (or loads cached) EVs for the five core emotions with the paper's
method on the fixed contrast corpus, then answers one question unsteered, with each emotion at
α = 1 and 2, and with an emotion suppressed at α = −1. The emotions of --emotion-file files are
extracted too (cached like the core ones) and shown at α = 1 and 2 after them.

${ENGINE_HELP}
${EMOTION_FILE_HELP}
  --question TEXT       the question to answer (default: advice for a first week at a new job)
  --max-tokens N        longest answer in tokens (default 48)`;

const DEFAULT_QUESTION = "I start a new job on Monday. Any advice for my first week?";
/** Asked for the suppression example: a question that invites fear on its own. */
const FEARFUL_QUESTION = "I keep hearing noises in the attic at night and I live alone. What could it be?";

export const demo: Command = {
  summary: "the main job: extract the five EVs on the default model and show steered answers",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        ...ENGINE_OPTIONS,
        "emotion-file": { type: "string", multiple: true },
        question: { type: "string", default: DEFAULT_QUESTION },
        "max-tokens": { type: "string", default: "48" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const engine = parseEngineOptions(values);
    const maxTokens = parseInteger("max-tokens", values["max-tokens"], 1);
    const userEmotions = readEmotionFiles(values["emotion-file"]);

    const started = Date.now();
    await using backend = await openEngine(engine, await modelFile(engine));
    console.log(
      `model: ${backend.model.name} (${backend.model.architecture}, ${backend.model.layerCount} layers, hidden ${backend.model.hiddenSize}) on ${backend.name}`,
    );

    const vectors = await coreEmotionVectors(backend, engine.vectorCache);
    if (userEmotions.length > 0) {
      const own = await cachedEmotionVectors(backend, {
        emotions: userEmotions.map((e) => e.name),
        userEmotions,
        ...extractionProgress(engine.vectorCache),
        onExtracted: (b) => {
          progressLine("");
          console.log(`extracted ${b.emotions.join(", ")} from ${b.queries} pairs in ${b.seconds.toFixed(1)} s`);
        },
        onCacheHit: (b) => console.log(`${b.emotions.join(", ")} loaded from cache.`),
      });
      for (const [emotion, vector] of own) vectors.set(emotion, vector);
    }
    const steerer = await Steerer.create(backend, { vectors });

    const show = async (title: string, question: string, weights: EmotionWeights) => {
      const { text } = await steerer.generate(question, weights, { maxTokens });
      console.log(`\n── ${title}\n${text.trim()}`);
    };
    console.log(`\nQ: ${values.question}`);
    await show("unsteered", values.question, {});
    for (const emotion of [...CORE_EMOTIONS, ...userEmotions.map((e) => e.name)]) {
      for (const alpha of [1, 2]) await show(`${emotion} α=${alpha}`, values.question, { [emotion]: alpha });
    }
    console.log(`\nQ: ${FEARFUL_QUESTION}`);
    await show("unsteered", FEARFUL_QUESTION, {});
    await show("fear α=−1 (suppressed)", FEARFUL_QUESTION, { fear: -1 });
    console.log(`\ndone in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  },
};
