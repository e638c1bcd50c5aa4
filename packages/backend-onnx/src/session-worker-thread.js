// @ts-check
// The worker thread of session-worker.ts: it owns one onnxruntime InferenceSession and runs it off
// the caller's event loop. Plain JavaScript on purpose: Node loads it as it is, from src/ (under
// tsx or vitest, which do not transform a Worker's entry file) and from dist/ (tsc copies it), so
// the package needs no loader in the worker. It imports nothing of ours; tensors cross as
// { type, dims, data } with their buffers transferred, never copied.
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";

/** @typedef {{ type: ort.Tensor.Type; dims: readonly number[]; data: ort.Tensor.DataType }} WireTensor */

const port = parentPort;
if (!port) throw new Error("session-worker-thread.js is a worker entry: start it through SessionWorker (session-worker.ts).");

/** @param {unknown} error */
const wireError = (error) =>
  error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { name: "Error", message: String(error) };

/** @type {ort.InferenceSession | null} */
let session = null;
try {
  session = await ort.InferenceSession.create(workerData.modelPath, workerData.sessionOptions);
  port.postMessage({ kind: "ready", inputNames: session.inputNames, outputNames: session.outputNames });
} catch (error) {
  port.postMessage({ kind: "failed", error: wireError(error) });
}

port.on(
  "message",
  /** @param {{ kind: "run"; id: number; feeds: Record<string, WireTensor>; fetches: string[] } | { kind: "release" }} message */
  async (message) => {
    if (message.kind === "release") {
      const released = session;
      session = null;
      await released?.release().catch(() => {});
      port.postMessage({ kind: "released" });
      return;
    }
    const { id, feeds, fetches } = message;
    try {
      if (!session) throw new Error("the ONNX session was released");
      /** @type {Record<string, ort.Tensor>} */
      const tensors = {};
      for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor(t.type, t.data, t.dims);
      const result = await session.run(tensors, fetches);
      /** @type {Record<string, WireTensor>} */
      const outputs = {};
      /** @type {Set<ArrayBuffer>} */
      const transfer = new Set();
      for (const [name, value] of Object.entries(result)) {
        const tensor = /** @type {ort.Tensor} */ (value);
        const data = /** @type {ort.Tensor.DataType & { buffer: ArrayBuffer }} */ (tensor.data);
        outputs[name] = { type: tensor.type, dims: tensor.dims, data };
        if (data.buffer instanceof ArrayBuffer) transfer.add(data.buffer);
      }
      port.postMessage({ kind: "result", id, outputs }, [...transfer]);
    } catch (error) {
      port.postMessage({ kind: "error", id, error: wireError(error) });
    }
  },
);
