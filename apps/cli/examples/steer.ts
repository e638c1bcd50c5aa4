// The README's library example, runnable: `pnpm example`. Plain JavaScript too (no type syntax, no
// `await using`), so it runs as an .mjs file on Node ≥ 20.19; a test runs it from the npm tarballs.
import { Steerer } from "@emosteer/core";
import { cachedEmotionVectors } from "@emosteer/core/node";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { ensureModel } from "@emosteer/models";

const { path } = await ensureModel("smollm2-135m-instruct");
const backend = await createLlamaCppBackend({ modelPath: path });
try {
  // Extracts the EVs once (paper's method, fixed corpus) and reuses the cached files afterwards.
  const vectors = await cachedEmotionVectors(backend, { emotions: ["joy", "fear"] });
  const steerer = await Steerer.create(backend, { vectors });
  const question = "How do I bake bread?";
  const plain = await steerer.generate(question, {}, { maxTokens: 32 });
  const steered = await steerer.generate(question, { joy: 1.5, fear: -1 }, { maxTokens: 32 });
  console.log(`unsteered: ${plain.text}\nsteered:   ${steered.text}`);
} finally {
  await backend.dispose();
}
