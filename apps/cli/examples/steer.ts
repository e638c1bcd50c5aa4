// The README's library example, runnable: `pnpm example`.
import { Steerer } from "@emosteer/core";
import { cachedEmotionVectors } from "@emosteer/core/node";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { ensureModel } from "@emosteer/models";

const { path } = await ensureModel("smollm2-135m-instruct");
await using backend = await createLlamaCppBackend({ modelPath: path });
// Extracts the five EVs once (paper's method, fixed corpus) and reuses the cached files afterwards.
const vectors = await cachedEmotionVectors(backend);
const steerer = await Steerer.create(backend, { vectors });
const { text } = await steerer.generate("How do I bake bread?", { joy: 1.5, fear: -1 }, { maxTokens: 64 });
console.log(text);
