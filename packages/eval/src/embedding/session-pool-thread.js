// @ts-check
// A worker thread of session-pool.ts, a handler module of core's WorkerRpc: it owns one
// onnxruntime InferenceSession of the MiniLM graph and runs chunks of runs on it, off the caller's
// thread. Plain JavaScript on purpose: Node loads it as it is, from src/ (vitest and tsx do not
// transform a worker's modules) and from dist/ (tsc copies it, allowJs). Tensors cross as
// { type, dims, data }, the outputs' buffers transferred, never copied.
import * as ort from "onnxruntime-node";

/** @typedef {{ type: ort.Tensor.Type; dims: readonly number[]; data: ort.Tensor.DataType }} WireTensor */

/** @param {{ modelPath: string; sessionOptions: ort.InferenceSession.SessionOptions }} data */
export async function open({ modelPath, sessionOptions }) {
  const session = await ort.InferenceSession.create(modelPath, sessionOptions);
  return {
    methods: {
      /**
       * The runs of a chunk one after another, as the calling thread would run them: same session
       * options (one intra-op thread), same inputs, so the outputs of a 1-thread calling-thread
       * session bit for bit. WorkerRpc serves calls in order, so the caller keeps a second chunk
       * queued here and this thread never waits for its next message.
       * @param {{ runs: Record<string, WireTensor>[]; fetches: string[] }} payload
       * @param {import("@emosteer/core/node").WorkerCallContext} context
       */
      async runAll({ runs, fetches }, { handOver }) {
        /** @type {Record<string, WireTensor>[]} */
        const results = [];
        for (const feeds of runs) {
          /** @type {Record<string, ort.Tensor>} */
          const tensors = {};
          for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor(t.type, /** @type {never} */ (t.data), t.dims);
          const result = await session.run(tensors, fetches);
          /** @type {Record<string, WireTensor>} */
          const outputs = {};
          for (const [name, value] of Object.entries(result)) {
            const tensor = /** @type {ort.Tensor} */ (value);
            outputs[name] = { type: tensor.type, dims: tensor.dims, data: handOver(tensor.data) };
          }
          results.push(outputs);
        }
        return results;
      },
    },
    close: () => session.release(),
  };
}
