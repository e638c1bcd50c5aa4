// @ts-check
// The worker thread of the transformers.js sessions (a handler module of core's WorkerRpc,
// started by transformers-backend.ts): it loads the model's own transformers.js copy and runs the
// sessions' forward passes on it, off the caller's event loop. Plain JavaScript on purpose: Node
// loads it as it is, from src/ (vitest and tsx do not transform a worker's modules) and from dist/
// (tsc copies it). Tensors cross as { type, dims, data }, their buffers transferred.
import { AutoModelForCausalLM, env, Tensor } from "@huggingface/transformers";

/** @typedef {{ type: string; dims: readonly number[]; data: any }} WireTensor */
// The graph's per-layer residual outputs (steerable-model.ts's HIDDEN_STATE_PREFIX): a session never reads them.
const HIDDEN_STATE_PREFIX = "hidden_states.";

/** @param {WireTensor} t */
const tensor = (t) => new Tensor(/** @type {never} */ (t.type), t.data, [...t.dims]);

/**
 * Loads the model as the backend did (same source, precision and device).
 * @param {{ source: string; fromHub: boolean; dtype?: string; device?: string }} data
 */
export async function open({ source, fromHub, dtype, device }) {
  env.allowLocalModels = true;
  if (fromHub) env.allowRemoteModels = true;
  const model = await AutoModelForCausalLM.from_pretrained(source, {
    local_files_only: !fromHub,
    ...(dtype ? { dtype: /** @type {never} */ (dtype) } : {}),
    ...(device ? { device: /** @type {never} */ (device) } : {}),
  });
  const session =
    /** @type {{ outputNames: string[]; run: (feeds: unknown, fetches?: unknown, options?: unknown) => Promise<unknown> }} */ (
      /** @type {Record<string, unknown>} */ (model.sessions)["model"]
    );
  // transformers.js fetches every output; a session step needs the logits and the KV cache only.
  const fetches = session.outputNames.filter((name) => !name.startsWith(HIDDEN_STATE_PREFIX));
  const run = session.run.bind(session);
  session.run = (feeds, f, options) => (f === undefined ? run(feeds, fetches) : run(feeds, f, options));
  return {
    methods: {
      /**
       * One forward pass: `inputs` (input_ids, attention_mask, position_ids, steering) and `past`
       * (past_key_values.* by name); returns the run's outputs (logits, present.*), handed over.
       * @param {{ inputs: Record<string, WireTensor>; past: Record<string, WireTensor> }} payload
       * @param {import("@emosteer/core/node").WorkerCallContext} context
       */
      async forward({ inputs, past }, { handOver }) {
        /** @type {Record<string, unknown>} */
        const feeds = {};
        for (const [name, t] of Object.entries(inputs)) feeds[name] = tensor(t);
        feeds["past_key_values"] = Object.fromEntries(Object.entries(past).map(([name, t]) => [name, tensor(t)]));
        const result = /** @type {Record<string, Tensor>} */ (await model.forward(feeds));
        /** @type {Record<string, WireTensor>} */
        const out = {};
        for (const [name, t] of Object.entries(result)) out[name] = { type: t.type, dims: t.dims, data: handOver(t.data) };
        return out;
      },
    },
    close: () => model.dispose(),
  };
}
