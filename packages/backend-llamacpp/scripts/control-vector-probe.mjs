#!/usr/bin/env node
// Reproduces, on the raw patched addon, the heap corruption a GPU build of llama.cpp hit on Mesa's
// lavapipe (benchmarks/ENGINES.md, "llama.cpp on Vulkan (lavapipe)"): one context decodes the same
// prompt again and again while its whole-context control vector (upstream's llama_set_adapter_cvec)
// changes between decodes; no capture and no per-sequence steering unless asked for.
//
//   cd packages/backend-llamacpp
//   GGML_VK_VISIBLE_DEVICES=0 EMOSTEER_LLAMA_GPU=vulkan MALLOC_CHECK_=3 node scripts/control-vector-probe.mjs \
//     [--steps "1-29;8-20;none"] [--rounds 2] [--capture all|<layers,…>]
//
// A step is a layer range for the vector ("1-29"), "none" (cleared) or "keep" (unchanged). Prints a
// line per decode; a corruption ends the process (exit 134) with glibc's message. Uses the model the
// tests use (smollm2-135m-instruct, fetched by them into the cache) and the build EMOSTEER_LLAMA_GPU
// names (unset: the CPU build, where every run ends normally).
import path from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { addonLocation, cacheRoot, gpuChoice, llamaCmakeOptions, readStamp } from "./build-addon.mjs";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "1-29;8-20;none" },
    rounds: { type: "string", default: "2" },
    capture: { type: "string" },
  },
});
const gpu = gpuChoice();
const location = addonLocation({ gpu });
if (!readStamp(location))
  throw new Error(`no finished addon build in ${location.dir}: run scripts/build-addon.mjs${gpu ? ` --gpu ${gpu}` : ""} first.`);
const modelPath = path.join(cacheRoot(), "models", "smollm2-135m-instruct", "smollm2-135m-instruct.gguf");
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(path.join(location.nodeLlamaCpp, "dist", "index.js")).href);
const llama = await getLlama({
  gpu,
  build: "never",
  cmakeOptions: llamaCmakeOptions(),
  usePrebuiltBinaries: false,
  progressLogs: false,
  logLevel: LlamaLogLevel.error,
});
const model = await llama.loadModel({ modelPath, gpuLayers: gpu ? "max" : 0 });
const layerCount = model.fileInsights.totalLayers - 1; // node-llama-cpp counts the output layer too
const hidden = model.embeddingVectorSize;
const captureLayers =
  values.capture === undefined
    ? null
    : values.capture === "all"
      ? Array.from({ length: layerCount }, (_, i) => i)
      : values.capture.split(",").map(Number);
const ctx = new llama._bindings.AddonContext(model._model, {
  contextSize: 1024,
  batchSize: 512,
  sequences: 1,
  threads: 1,
  flashAttention: false,
  captureActivations: captureLayers !== null,
});
if (!(await ctx.init())) throw new Error("llama.cpp could not create the context");
const tokens = Array.from(
  model._model.tokenize(
    "<|im_start|>user\nWhat should I pack for a weekend hike?<|im_end|>\n<|im_start|>assistant\nWater, snacks, a map and a warm layer.",
    true,
  ),
);
// Any non-zero vector does: the corruption does not depend on its values.
const vector = new Float32Array(hidden * (layerCount - 1)).map((_, i) => Math.sin(i) * 0.05);
const log = (message) => console.log(`${new Date().toISOString().slice(11, 19)} ${message}`);
log(`${gpu || "cpu"}: ${tokens.length}-token prompt, steps ${values.steps}, ${values.rounds} rounds, capture ${values.capture ?? "off"}`);
for (let round = 0; round < Number(values.rounds); round++) {
  for (const step of values.steps.split(";")) {
    if (step === "none") ctx.setControlVector(null);
    else if (step !== "keep") {
      const [from, to] = step.split("-").map(Number);
      ctx.setControlVector(vector, from, to);
    }
    if (captureLayers) ctx.setActivationCapture(Int32Array.from(captureLayers));
    ctx.disposeSequence(0);
    ctx.initBatch(tokens.length);
    ctx.addToBatch(0, 0, Uint32Array.from(tokens), Uint32Array.of(tokens.length - 1));
    await ctx.decodeBatch();
    if (captureLayers) {
      const rows = ctx.takeActivationCapture();
      ctx.setActivationCapture(null);
      log(`round ${round} step ${step}: captured ${rows.length} layers`);
    } else log(`round ${round} step ${step}: ${ctx.getBatchLogits().length} logits`);
  }
}
await ctx.dispose();
await model.dispose();
await llama.dispose();
log("done, no corruption detected");
