// @ts-check
// The worker-thread half of session-worker.ts, a handler module of core's WorkerRpc: it owns one
// onnxruntime InferenceSession and runs it off the caller's event loop. Plain JavaScript on
// purpose: Node loads it as it is, from src/ (vitest and tsx do not transform a worker's modules)
// and from dist/ (tsc copies it). Tensors cross as { type, dims, data }, the outputs' buffers
// transferred, never copied.
import * as ort from "onnxruntime-node";

/** @typedef {{ type: ort.Tensor.Type; dims: readonly number[]; data: ort.Tensor.DataType }} WireTensor */

/** @param {{ modelPath: string; sessionOptions: ort.InferenceSession.SessionOptions }} data */
export async function open({ modelPath, sessionOptions }) {
  const session = await ort.InferenceSession.create(modelPath, sessionOptions);
  return {
    info: { inputNames: session.inputNames, outputNames: session.outputNames },
    methods: {
      /**
       * @param {{ feeds: Record<string, WireTensor>; fetches: string[] }} payload
       * @param {import("@emosteer/core/node").WorkerCallContext} context
       */
      async run({ feeds, fetches }, { handOver }) {
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
        return outputs;
      },
    },
    close: () => session.release(),
  };
}
