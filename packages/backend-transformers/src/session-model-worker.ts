import { WorkerRpc, wireView } from "@emosteer/core/node";
import { Tensor } from "@huggingface/transformers";

/** Where a transformers.js backend runs its sessions' forward passes (see `sessionThread`). */
export type SessionThread = "worker" | "caller";

/** How the worker loads the model: as the backend did. */
export interface SessionModelSource {
  readonly source: string;
  readonly fromHub: boolean;
  readonly dtype?: string;
  readonly device?: string;
}

/** The sessions' copy of the model in a worker thread: one forward pass per call. */
export interface SessionModelWorker {
  /**
   * One forward pass of `inputs` (with `past_key_values` a record of cache tensors). `transfer`:
   * inputs whose buffers move to the worker without a copy (`"past_key_values"` for the whole
   * cache); they read as empty afterwards. The outputs are the caller's own.
   */
  forward(inputs: Record<string, unknown>, transfer: readonly string[]): Promise<Record<string, Tensor>>;
  dispose(): Promise<void>;
}

interface WireTensor {
  readonly type: Tensor["type"];
  readonly dims: readonly number[];
  readonly data: Tensor["data"];
}

/**
 * Node only (worker_threads): transformers-backend.ts imports this module on first use, so
 * browser bundles never reach it. `what` names the worker in errors.
 */
export async function openSessionModelWorker(from: SessionModelSource, what: string): Promise<SessionModelWorker> {
  const rpc = await WorkerRpc.open(new URL("./session-model-thread.js", import.meta.url), {
    what,
    data: from,
    loads: from.source,
    whenGone: "create the backend again",
  });
  return {
    async forward(inputs, transfer) {
      const handOver = new Set(transfer);
      const sent = new Set<ArrayBuffer>();
      const wire = (t: Tensor, move: boolean): WireTensor => ({
        type: t.type,
        dims: t.dims,
        data: wireView(t.data, move ? sent : undefined),
      });
      const { past_key_values: past = {}, ...rest } = inputs as Record<string, Tensor> & { past_key_values?: Record<string, Tensor> };
      const payload = {
        inputs: Object.fromEntries(Object.entries(rest).map(([name, t]) => [name, wire(t, handOver.has(name))])),
        past: Object.fromEntries(Object.entries(past).map(([name, t]) => [name, wire(t, handOver.has("past_key_values"))])),
      };
      const outputs = await rpc.call<Record<string, WireTensor>>("forward", payload, sent);
      return Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, new Tensor(t.type, t.data as never, [...t.dims])]));
    },
    dispose: () => rpc.dispose(),
  };
}
