import { parseArgs } from "node:util";
import { Steerer } from "@emosteer/core";
import { cachedEmotionVectors, loadVectorFile } from "@emosteer/core/node";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { DEFAULT_MODEL_ID, ensureModel } from "@emosteer/models";
import type { Command } from "./command.js";
import { parseCorpus, parseMethod, parseWeights } from "./backend-options.js";
import { progressBar, progressLine } from "../progress.js";

const HELP = `Usage: emosteer generate [--model ID] [--steer joy=1.5,fear=-1] [--vector FILE ...]
                         [--method M] [--corpus fixed|self] [--max-tokens N] [--temperature T] [--seed S] PROMPT

Answers PROMPT with the emotions given by --steer (α per emotion; negative suppresses). Vectors come
from the cache (extracted on first use) or from --vector files (control-vector GGUF written by
"emosteer extract" or by any tool that writes llama.cpp control vectors with emosteer metadata).`;

export const generate: Command = {
  summary: "answer a prompt steered by emotions, e.g. --steer joy=1.5,fear=-1",
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: "string", default: DEFAULT_MODEL_ID },
        steer: { type: "string" },
        vector: { type: "string", multiple: true },
        method: { type: "string", default: "mean-diff" },
        corpus: { type: "string", default: "fixed" },
        "max-tokens": { type: "string", default: "128" },
        temperature: { type: "string", default: "0" },
        seed: { type: "string", default: "0" },
        help: { type: "boolean" },
      },
    });
    const prompt = positionals.join(" ").trim();
    if (values.help || !prompt) {
      console.log(HELP);
      return values.help ? 0 : 2;
    }
    const weights = parseWeights(values.steer);
    const model = await ensureModel(values.model!, { onProgress: (p) => progressLine(`model ${p.modelId}: ${p.stage} ${p.part}/${p.parts}`) });
    await using backend = await createLlamaCppBackend({ modelPath: model.path });
    const started = Date.now();
    const vectors = values.vector?.length
      ? new Map(await Promise.all(values.vector.map(async (path) => {
          const v = await loadVectorFile(path, { expectedModel: backend.model });
          return [v.emotion, v] as const;
        })))
      : await cachedEmotionVectors(backend, {
          emotions: Object.keys(weights).length ? Object.keys(weights) : undefined,
          method: parseMethod(values.method!),
          corpus: parseCorpus(values.corpus!),
          onProgress: (p) => progressLine(progressBar(p.done, p.total, started, `extracting (${p.phase}) `)),
        });
    progressLine("");
    const steerer = await Steerer.create(backend, { vectors });
    await steerer.generate(prompt, weights, {
      maxTokens: Number(values["max-tokens"]),
      temperature: Number(values.temperature),
      seed: Number(values.seed),
      onToken: (t) => process.stdout.write(t.text),
    });
    process.stdout.write("\n");
    return 0;
  },
};
