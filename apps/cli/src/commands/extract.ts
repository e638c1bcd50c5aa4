import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cachedEmotionVectors, saveVectorFile } from "@emosteer/core/node";
import type { Command } from "./command.js";
import { extractionProgress } from "./emotion-vectors.js";
import { ENGINE_HELP, ENGINE_OPTIONS, modelFile, openEngine, parseEngineOptions } from "./engine-options.js";
import { EMOTION_FILE_HELP, parseEmotions, readEmotionFiles } from "./emotion-files.js";
import { parseCorpus, parseInteger, parseMethod } from "./option-values.js";
import { progressLine } from "../progress.js";

const HELP = `Usage: emosteer extract [--model ID] [--backend NAME] [--emotions joy,anger,...] [--emotion-file FILE ...]
                        [--method M] [--corpus fixed|fixed-v2|self] [--max-queries N] [--vector-cache DIR] [--out DIR]

Extracts emotion vectors on the chosen engine (cached by model fingerprint, engine, method and
corpus) and, with --out, also writes them as llama.cpp control-vector files DIR/<emotion>.gguf,
which every engine (and llama.cpp's own --control-vector) reads.

${ENGINE_HELP}
  --emotions LIST       emotions to extract, comma-separated: core ones or those of --emotion-file
                        (default: the --emotion-file emotions if any, else joy,anger,disgust,fear,sadness)
${EMOTION_FILE_HELP}
  --method M            mean-diff (the paper's, default), last-token, pca or fisher
  --corpus C            fixed (the repo's contrast corpus v1, default), fixed-v2 (corpus v2: the emotion
                        in every sentence) or self (the model writes its own responses) for core
                        emotions; a user emotion uses its file's examples, or
                        without examples the model's own answers under its conditioningPrompt
  --max-queries N       use the first N ≥ 2 contrast pairs (default: all)
  --out DIR             also write DIR/<emotion>.gguf`;

export const extract: Command = {
  summary: "extract emotion vectors for a model and save them as control-vector GGUF files",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        ...ENGINE_OPTIONS,
        emotions: { type: "string" },
        "emotion-file": { type: "string", multiple: true },
        method: { type: "string", default: "mean-diff" },
        corpus: { type: "string", default: "fixed" },
        "max-queries": { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const engine = parseEngineOptions(values);
    const method = parseMethod(values.method);
    const corpus = parseCorpus(values.corpus);
    const userEmotions = readEmotionFiles(values["emotion-file"]);
    const emotions = parseEmotions(values.emotions, userEmotions);
    const maxQueries = values["max-queries"] === undefined ? undefined : parseInteger("max-queries", values["max-queries"], 2);

    await using backend = await openEngine(engine, await modelFile(engine));
    const cachedIn = new Set<string>();
    const vectors = await cachedEmotionVectors(backend, {
      emotions,
      userEmotions,
      method,
      corpus,
      ...(maxQueries !== undefined ? { maxQueries } : {}),
      ...extractionProgress(engine.vectorCache),
      onCacheHit: (batch) => {
        for (const e of batch.emotions) cachedIn.add(e);
      },
    });
    progressLine("");
    if (values.out) await mkdir(values.out, { recursive: true });
    for (const [emotion, vector] of vectors) {
      const norms = vector.norms();
      const peak = norms.reduce((best, n, l) => (n > norms[best]! ? l : best), 0);
      const line = `${emotion.padEnd(10)} ${vector.provenance.samples} pairs on ${backend.name}, largest norm ${norms[peak]!.toFixed(2)} at layer ${peak}${cachedIn.has(emotion) ? " (cached)" : ""}`;
      if (values.out) {
        const path = join(values.out, `${emotion}.gguf`);
        await saveVectorFile(path, vector);
        console.log(`${line} → ${path}`);
      } else console.log(line);
    }
    return 0;
  },
};
