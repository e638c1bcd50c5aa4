import { loadSentenceEmbedder } from "./src/embedding/sentence-embedder.ts";
const e = await loadSentenceEmbedder();
for (const t of ['Ünïcödé — “quotes” … naïve café résumé 😀 \u200b zero-width', "I'M SO ANGRY!!! >:( #worst\tday\never"]) console.log(e.tokenize(t).join(", "));
