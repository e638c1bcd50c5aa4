import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { GRAPH_IO } from "@emosteer/onnx-export";
import { ensureModel } from "@emosteer/models";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureGraphOf } from "../src/capture-graph.js";
import { CAPTURE_GRAPH_FILE } from "../src/capture-session.js";
import { createOnnxBackend, type OnnxSteeringBackend } from "../src/index.js";

describe("the capture graph (the export without its LM head) on SmolLM2-135M fp32", () => {
  let backend: OnnxSteeringBackend;
  let full: ort.InferenceSession;
  let capture: ort.InferenceSession;

  beforeAll(async () => {
    const { path } = await ensureModel("smollm2-135m-instruct");
    backend = await createOnnxBackend({ modelPath: path, precision: "fp32", sessionThread: "caller" });
    const dir = join(backend.modelDir, "onnx");
    // A capture derives the graph beside model.onnx (it references model.onnx_data by a relative path).
    // The file is not deleted first: other processes sharing this model cache may be reading it; a
    // capture leaves it equal to what captureGraphOf derives, whoever wrote it.
    const tokens = await backend.tokenize("Hello there");
    await backend.captureResiduals({ tokens, spanStart: 0, spanEnd: tokens.length, layers: [3] });
    const derived = captureGraphOf(await readFile(join(dir, "model.onnx")));
    expect(derived).not.toBeNull();
    expect(Buffer.compare(Buffer.from(derived!), await readFile(join(dir, CAPTURE_GRAPH_FILE)))).toBe(0);
    full = await ort.InferenceSession.create(join(dir, "model.onnx"));
    capture = await ort.InferenceSession.create(join(dir, CAPTURE_GRAPH_FILE));
  });

  afterAll(async () => {
    await full?.release();
    await capture?.release();
    await backend?.dispose();
  });

  it("has the same inputs and every output but logits", () => {
    expect(capture.inputNames).toEqual(full.inputNames);
    expect(capture.outputNames).toEqual(full.outputNames.filter((n) => n !== GRAPH_IO.logits));
    expect(full.outputNames).toContain(GRAPH_IO.logits);
  });

  it("computes the same hidden states and KV cache as the full graph", async () => {
    const tokens = await backend.tokenize("<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\nFine, thanks.");
    const S = tokens.length;
    const feeds: Record<string, ort.Tensor> = {
      [GRAPH_IO.inputIds]: new ort.Tensor("int64", BigInt64Array.from(tokens, BigInt), [1, S]),
      [GRAPH_IO.attentionMask]: new ort.Tensor("int64", new BigInt64Array(S).fill(1n), [1, S]),
      [GRAPH_IO.positionIds]: new ort.Tensor(
        "int64",
        BigInt64Array.from({ length: S }, (_, i) => BigInt(i)),
        [1, S],
      ),
      [GRAPH_IO.steering]: new ort.Tensor("float32", new Float32Array(30 * 576).fill(0.01), [1, 30, 576]),
    };
    for (let i = 0; i < 30; i++) {
      feeds[GRAPH_IO.pastKey(i)] = new ort.Tensor("float32", new Float32Array(0), [1, 3, 0, 64]);
      feeds[GRAPH_IO.pastValue(i)] = new ort.Tensor("float32", new Float32Array(0), [1, 3, 0, 64]);
    }
    const fetches = [GRAPH_IO.hiddenState(1), GRAPH_IO.hiddenState(17), GRAPH_IO.hiddenState(29), GRAPH_IO.presentKey(29)];
    const a = await full.run(feeds, fetches);
    const b = await capture.run(feeds, fetches);
    for (const name of fetches) {
      const x = a[name]!.data as Float32Array;
      const y = b[name]!.data as Float32Array;
      expect(y.length).toBe(x.length);
      const scale = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const diff = y.reduce((m, v, i) => Math.max(m, Math.abs(v - x[i]!)), 0);
      // The same nodes on the same inputs: equal up to float rounding (kernel choice), far below any steering effect.
      expect(diff / scale).toBeLessThan(1e-6);
    }
  });

  it("is not derived from a graph without logits", () => {
    expect(captureGraphOf(new Uint8Array(0))).toBeNull();
  });
});
