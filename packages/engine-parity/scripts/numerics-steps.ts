/**
 * How much of the ONNX-vs-llama.cpp disagreement each of llama.cpp's roundings explains: exports
 * the same GGUF with the exporter's llama.cpp numerics switched on one step at a time and compares
 * next-token logits with llama.cpp over the parity test's 520 positions; then compares llama.cpp on
 * an F32 copy of the weights (made by llama-quantize) with llama.cpp on the GGUF and with the graph.
 *   npx tsx --conditions=@emosteer/source packages/engine-parity/scripts/numerics-steps.ts [model-id ...]
 * Writes one JSON line per comparison to stdout; the exports go to a temporary folder, removed after.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";
import { createOnnxBackend } from "@emosteer/backend-onnx";
import { ensureModel } from "@emosteer/models";
import { exportGgufToOnnx, llamaCppMatmulInput, NUMERICS, type NumericsFacts } from "@emosteer/onnx-export";
// @ts-expect-error: a plain .mjs script without type declarations
import { buildLlamaTools } from "../../backend-llamacpp/scripts/build-llama-tools.mjs";
import { f32Gguf } from "../src/f32-gguf.js";
import { compareLogits, type LogitParity } from "../src/logit-parity.js";
import { parityText, PARITY_POSITIONS } from "../src/parity-text.js";

const THREADS = 2;
const models = process.argv.slice(2).length
  ? process.argv.slice(2)
  : ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct", "gemma3-270m"];

const llamaCpp = NUMERICS["llama.cpp"];
/** Cumulative steps from "exact" to "llama.cpp". */
const STEPS: readonly { readonly name: string; readonly facts: NumericsFacts }[] = [
  { name: "exact", facts: NUMERICS.exact },
  {
    name: "+matmul int8 activations (Q8_1 as Q8_0)",
    facts: { ...NUMERICS.exact, matmulInput: (t) => (llamaCppMatmulInput(t) === "q8_1" ? "q8_0" : llamaCppMatmulInput(t)) },
  },
  { name: "+Q8_1 block sums", facts: { ...NUMERICS.exact, matmulInput: llamaCppMatmulInput } },
  { name: "+fp16 attention operands", facts: { ...NUMERICS.exact, matmulInput: llamaCppMatmulInput, attentionOperands: "f16" } },
  { name: "+fp16 GELU table", facts: { ...llamaCpp, rope: "onnx-trig" } },
  { name: "+ggml RoPE table (= llama.cpp)", facts: llamaCpp },
  // The graph llama.cpp runs on F32 weights: no activation rounding, but fp16 attention, GELU table, RoPE table.
  { name: "llama.cpp numerics without int8 activations", facts: { ...llamaCpp, matmulInput: () => "none" } },
];

const report = (row: Record<string, unknown>, parity: LogitParity) =>
  console.log(
    JSON.stringify({
      ...row,
      top1: +parity.top1Agreement.toFixed(4),
      maxAbs: +parity.maxAbsDiff.toFixed(4),
      meanAbs: +parity.meanAbsDiff.toFixed(5),
      maxNextLogProb: +parity.maxNextTokenLogProbDiff.toFixed(4),
    }),
  );

const toolsDir: string = await buildLlamaTools();
const scratch = await mkdtemp(join(tmpdir(), "emosteer-numerics-"));
try {
  for (const id of models) {
    const { path } = await ensureModel(id);
    const llama = await createLlamaCppBackend({ modelPath: path, contextSize: 1024, threads: THREADS });
    const tokens = (await llama.tokenize(await parityText())).slice(0, PARITY_POSITIONS);
    const vocab = llama.model.vocabSize;
    const reference = await llama.evaluateLogits({ tokens });
    await llama.dispose();
    const next = tokens.slice(1);

    const graphLogits = new Map<string, Float32Array>();
    for (const step of STEPS) {
      const outDir = join(scratch, `${id}-${STEPS.indexOf(step)}`);
      await exportGgufToOnnx({ ggufPath: path, outDir, numericsFacts: step.facts });
      const onnx = await createOnnxBackend({ modelDir: outDir, threads: THREADS });
      const logits = await onnx.logits(tokens);
      await onnx.dispose();
      await rm(outDir, { recursive: true, force: true });
      report({ model: id, reference: "llama.cpp GGUF", variant: step.name }, compareLogits(reference, logits, vocab, next));
      if (step === STEPS[0] || step === STEPS.at(-1)) graphLogits.set(step.name, logits);
    }

    const f32 = await createLlamaCppBackend({ modelPath: await f32Gguf(path, toolsDir), contextSize: 1024, threads: THREADS });
    const f32Logits = await f32.evaluateLogits({ tokens });
    await f32.dispose();
    report({ model: id, reference: "llama.cpp F32 GGUF", variant: "llama.cpp GGUF" }, compareLogits(f32Logits, reference, vocab, next));
    for (const [name, logits] of graphLogits)
      report({ model: id, reference: "llama.cpp F32 GGUF", variant: name }, compareLogits(f32Logits, logits, vocab, next));
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}
