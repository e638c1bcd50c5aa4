import { parseArgs } from "node:util";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { DEFAULT_MODEL_ID, ensureModel } from "@emosteer/models";
import { cachedEmotionVectors, saveVectorFile } from "@emosteer/core/node";
import type { Command } from "./command.js";
import { parseCorpus, parseEmotions, parseMethod } from "./backend-options.js";
import { progressBar, progressLine } from "../progress.js";

const HELP = `Usage: emosteer extract [--model ID] [--emotions joy,anger,...] [--method mean-diff|last-token|pca|fisher]
                        [--corpus fixed|self] [--max-queries N] [--out DIR]

Extracts emotion vectors on the llama.cpp backend (cached by model fingerprint, method and corpus)
and, with --out, also writes them as llama.cpp control-vector files DIR/<emotion>.gguf.`;

export const extract: Command = {
  summary: "extract emotion vectors for a model and save them as control-vector GGUF files",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: "string", default: DEFAULT_MODEL_ID },
        emotions: { type: "string" },
        method: { type: "string", default: "mean-diff" },
        corpus: { type: "string", default: "fixed" },
        "max-queries": { type: "string" },
        out: { type: "string" },
        help: { type: "boolean" },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const method = parseMethod(values.method!);
    const corpus = parseCorpus(values.corpus!);
    const emotions = parseEmotions(values.emotions);
    const maxQueries = values["max-queries"] === undefined ? undefined : Number(values["max-queries"]);
    if (maxQueries !== undefined && !(Number.isInteger(maxQueries) && maxQueries > 1)) throw new RangeError(`--max-queries must be an integer ≥ 2`);

    const model = await ensureModel(values.model!, { onProgress: (p) => progressLine(`model ${p.modelId}: ${p.stage} ${p.part}/${p.parts}`) });
    await using backend = await createLlamaCppBackend({ modelPath: model.path });
    const started = Date.now();
    const vectors = await cachedEmotionVectors(backend, {
      emotions,
      method,
      corpus,
      ...(maxQueries !== undefined ? { maxQueries } : {}),
      onProgress: (p) => progressLine(progressBar(p.done, p.total, started, `${p.phase} `)),
    });
    progressLine("");
    if (values.out) await mkdir(values.out, { recursive: true });
    for (const [emotion, vector] of vectors) {
      const norms = vector.norms();
      const peak = norms.reduce((best, n, l) => (n > norms[best]! ? l : best), 0);
      const line = `${emotion.padEnd(10)} ${vector.provenance.samples} pairs, largest norm ${norms[peak]!.toFixed(2)} at layer ${peak}`;
      if (values.out) {
        const path = join(values.out, `${emotion}.gguf`);
        await saveVectorFile(path, vector);
        console.log(`${line} → ${path}`);
      } else console.log(line);
    }
    return 0;
  },
};
