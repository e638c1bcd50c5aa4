// @ts-check
// A worker thread of session-pool.ts: it owns one onnxruntime InferenceSession of the MiniLM graph
// and runs chunks of runs on it, off the caller's thread. Plain JavaScript on purpose: Node loads it
// as it is, from src/ (under tsx or vitest, which do not transform a Worker's entry file) and from
// dist/ (tsc copies it, allowJs), so the package needs no loader in the worker. It imports nothing
// of ours; tensors cross as { type, dims, data } with their buffers transferred, never copied.
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";

/** @typedef {{ type: ort.Tensor.Type; dims: readonly number[]; data: ort.Tensor.DataType }} WireTensor */

const port = parentPort;
if (!port) throw new Error("session-pool-thread.js is a worker entry: start it through SessionPool (session-pool.ts).");

/** @param {unknown} error */
const wireError = (error) =>
  error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { name: "Error", message: String(error) };

/** @type {ort.InferenceSession | null} */
let session = null;
try {
  session = await ort.InferenceSession.create(workerData.modelPath, workerData.sessionOptions);
  port.postMessage({ kind: "ready" });
} catch (error) {
  port.postMessage({ kind: "failed", error: wireError(error) });
}

/** @typedef {{ kind: "run"; id: number; runs: Record<string, WireTensor>[]; fetches: string[] } | { kind: "release" }} ToWorker */

/** @param {ToWorker} message */
const handle = async (message) => {
  if (message.kind === "release") {
    const released = session;
    session = null;
    await released?.release().catch(() => {});
    port.postMessage({ kind: "released" });
    return;
  }
  const { id, runs, fetches } = message;
  try {
    /** @type {Record<string, WireTensor>[]} */
    const results = [];
    /** @type {Set<ArrayBuffer>} */
    const transfer = new Set();
    // The runs of a chunk one after another, as the calling thread would run them: same session
    // options (one intra-op thread), same inputs, so the outputs of a 1-thread calling-thread session bit for bit.
    for (const feeds of runs) {
      if (!session) throw new Error("the ONNX session was released");
      /** @type {Record<string, ort.Tensor>} */
      const tensors = {};
      for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor(t.type, t.data, t.dims);
      const result = await session.run(tensors, fetches);
      /** @type {Record<string, WireTensor>} */
      const outputs = {};
      for (const [name, value] of Object.entries(result)) {
        const tensor = /** @type {ort.Tensor} */ (value);
        const data = /** @type {ort.Tensor.DataType & { buffer: ArrayBuffer }} */ (tensor.data);
        outputs[name] = { type: tensor.type, dims: tensor.dims, data };
        if (data.buffer instanceof ArrayBuffer) transfer.add(data.buffer);
      }
      results.push(outputs);
    }
    port.postMessage({ kind: "result", id, results }, [...transfer]);
  } catch (error) {
    port.postMessage({ kind: "error", id, error: wireError(error) });
  }
};

// Messages are handled one at a time, in order: the caller keeps a second chunk queued here so
// that this thread never waits for the caller's next message, and the session never runs two at once.
/** @type {Promise<void>} */
let queue = Promise.resolve();
port.on(
  "message",
  /** @param {ToWorker} message */
  (message) => {
    queue = queue.then(() => handle(message));
  },
);
