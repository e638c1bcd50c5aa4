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
  /** Outputs carried to the next run under a key (session-worker.ts, RunOptions.state): the KV cache stays here. */
  /** @type {Map<string, Record<string, ort.Tensor>>} */
  const states = new Map();
  return {
    info: { inputNames: session.inputNames, outputNames: session.outputNames },
    methods: {
      /**
       * @param {{ feeds: Record<string, WireTensor>; fetches: string[]; state?: { key: string; carry: Record<string, string> } }} payload
       * @param {import("@emosteer/core/node").WorkerCallContext} context
       */
      async run({ feeds, fetches, state }, { handOver }) {
        /** @type {Record<string, ort.Tensor>} */
        const tensors = { ...(state ? states.get(state.key) : {}) };
        for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor(t.type, /** @type {never} */ (t.data), t.dims);
        const result = { ...(await session.run(tensors, fetches)) };
        if (state) {
          /** @type {Record<string, ort.Tensor>} */
          const kept = {};
          for (const [output, input] of Object.entries(state.carry)) {
            const tensor = /** @type {ort.Tensor | undefined} */ (result[output]);
            if (!tensor) throw new Error(`carried output "${output}" was not fetched: list it in the run's fetches`);
            kept[input] = tensor;
            delete result[output];
          }
          states.set(state.key, kept);
        }
        /** @type {Record<string, WireTensor>} */
        const outputs = {};
        for (const [name, value] of Object.entries(result)) {
          const tensor = /** @type {ort.Tensor} */ (value);
          outputs[name] = { type: tensor.type, dims: tensor.dims, data: handOver(tensor.data) };
        }
        return outputs;
      },
      /** @param {{ key: string }} payload */
      dropState({ key }) {
        states.delete(key);
      },
    },
    close: () => session.release(),
  };
}
