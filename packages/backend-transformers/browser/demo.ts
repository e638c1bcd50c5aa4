// The browser demo page: loads the exported model through transformers.js (WASM) and compares an
// unsteered completion with one steered by the chosen emotion and α. Bundled by server.ts.
import { env } from "@huggingface/transformers";
import { decodeVectorFile, type EmotionVector, type SteeringBackend } from "@emosteer/core";
import { createTransformersBackend } from "../src/index.js";

/** What the server tells the page (served as /demo-config.json). */
export interface DemoConfig {
  /** URL path of the exported model folder. */
  readonly modelUrl: string;
  /** Emotion → URL of its vector file. */
  readonly vectors: Readonly<Record<string, string>>;
  /** URL path of onnxruntime-web's dist folder. */
  readonly ortUrl: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (text: string) => ($("status").textContent = text);

async function main(): Promise<void> {
  const config = (await (await fetch("/demo-config.json")).json()) as DemoConfig;
  // Never the CDN: the runtime's wasm comes from this server (asyncify build, like transformers.js's default).
  const wasm = env.backends.onnx.wasm!;
  wasm.wasmPaths = {
    mjs: `${config.ortUrl}/ort-wasm-simd-threaded.asyncify.mjs`,
    wasm: `${config.ortUrl}/ort-wasm-simd-threaded.asyncify.wasm`,
  };
  const threads = Number(new URLSearchParams(location.search).get("threads") ?? navigator.hardwareConcurrency ?? 1);
  wasm.numThreads = crossOriginIsolated ? Math.max(1, Math.min(4, threads)) : 1;
  env.useBrowserCache = false;

  const select = $<HTMLSelectElement>("emotion");
  for (const emotion of Object.keys(config.vectors)) select.add(new Option(emotion, emotion));

  status("loading model…");
  const started = performance.now();
  // No onProgress: with a progress callback transformers.js fetches every local file once more to size it.
  const backend = await createTransformersBackend({ modelDir: config.modelUrl, device: "wasm" });
  status(
    `model loaded in ${((performance.now() - started) / 1000).toFixed(1)} s (${backend.model.name}, ${backend.model.layerCount} layers, ${wasm.numThreads} thread(s))`,
  );
  const vectors = new Map<string, EmotionVector>();
  const button = $<HTMLButtonElement>("generate");
  button.disabled = false;
  button.addEventListener("click", () => {
    button.disabled = true;
    generate(backend, config, vectors)
      .catch((error: unknown) => status(`error: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => (button.disabled = false));
  });
  document.body.dataset["ready"] = "true";
}

async function generate(backend: SteeringBackend, config: DemoConfig, vectors: Map<string, EmotionVector>): Promise<void> {
  const emotion = $<HTMLSelectElement>("emotion").value;
  const alpha = Number($<HTMLInputElement>("alpha").value);
  const maxTokens = Number($<HTMLInputElement>("max-tokens").value);
  const prompt = backend.formatChat([{ role: "user", content: $<HTMLTextAreaElement>("prompt").value }]);
  document.body.dataset["done"] = "false";
  let vector = vectors.get(emotion);
  if (!vector) {
    status(`fetching the ${emotion} vector…`);
    const response = await fetch(config.vectors[emotion]!);
    if (!response.ok) throw new Error(`vector file for ${emotion}: HTTP ${response.status}`);
    // core's browser-safe decoder checks that the vector was made for these weights (fingerprint).
    vector = await decodeVectorFile(new Uint8Array(await response.arrayBuffer()), {
      expectedModel: backend.model,
      emotion,
      name: config.vectors[emotion]!,
    });
    vectors.set(emotion, vector);
  }
  $("steered-title").textContent = `${emotion}, α = ${alpha}`;
  for (const [id, steering] of [
    ["baseline", null],
    ["steered", { terms: [{ vector, alpha }] }],
  ] as const) {
    const out = $(id);
    out.textContent = "";
    status(`generating (${id})…`);
    const result = await backend.generate(prompt, { maxTokens, steering, onToken: ({ text }) => out.append(text) });
    out.dataset["tokens"] = result.tokens.join(",");
    out.dataset["tokensPerSecond"] = ((1000 * Math.max(result.tokens.length - 1, 0)) / Math.max(result.timings.decodeMs, 1)).toFixed(1);
  }
  status(`done: ${$("baseline").dataset["tokensPerSecond"]} / ${$("steered").dataset["tokensPerSecond"]} tokens/s`);
  document.body.dataset["done"] = "true";
}

main().catch((error: unknown) => {
  status(`error: ${error instanceof Error ? error.message : String(error)}`);
  document.body.dataset["error"] = "true";
});
