import { WorkerRpc, wireView } from "@emosteer/core/node";
import * as ort from "onnxruntime-node";

/**
 * Where a backend's onnxruntime session runs. `"worker"` (the default): in a worker thread of its
 * own, so a session run (a prompt pass takes hundreds of ms) never blocks the caller's event loop
 * — a server keeps answering sockets, streaming and seeing aborts while the model computes.
 * `"caller"`: on the calling thread, as onnxruntime-node does by itself (each run blocks its
 * event loop; kept for measurements and for hosts without worker threads).
 */
export type SessionThread = "worker" | "caller";

export interface RunOptions {
  /**
   * Feeds whose buffers the caller hands over (a KV cache it will not read again, freshly built
   * inputs): they move to the worker without a copy and read as empty afterwards. The other feeds
   * are copied, so a buffer the caller keeps (a steering table it reuses) stays intact.
   */
  readonly transfer?: Iterable<string>;
}

/** One loaded onnxruntime session, wherever it runs: the only thing a backend runs the model through. */
export interface SessionRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** One session run; the outputs are the caller's own (their buffers are not shared with anything). */
  run(feeds: Record<string, ort.Tensor>, fetches: readonly string[], options?: RunOptions): Promise<ort.InferenceSession.ReturnType>;
  /** Releases the session (and stops its worker). Runs still pending reject with `DisposedError`. */
  release(): Promise<void>;
}

/** Loads `modelPath` into a session on `thread` (`"worker"` by default). `what` names it in errors. */
export async function openSessionRunner(
  modelPath: string,
  sessionOptions: ort.InferenceSession.SessionOptions,
  { thread = "worker", what }: { readonly thread?: SessionThread; readonly what: string },
): Promise<SessionRunner> {
  if (thread === "caller") {
    const session = await ort.InferenceSession.create(modelPath, sessionOptions);
    return {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      run: (feeds, fetches) => session.run(feeds, [...fetches]),
      release: () => session.release(),
    };
  }
  return openSessionWorker(modelPath, sessionOptions, what);
}

interface WireTensor {
  readonly type: ort.Tensor.Type;
  readonly dims: readonly number[];
  readonly data: ort.Tensor.DataType;
}

/**
 * The session in a worker thread (core's `WorkerRpc` on `session-worker-thread.js`). A run is one
 * call: feeds go over with the buffers the caller hands over transferred, outputs come back
 * transferred, so a step moves the KV cache between the threads without copying it. The worker
 * holds the process open only while a run or the load is pending, as a session on the caller's
 * thread would.
 */
async function openSessionWorker(
  modelPath: string,
  sessionOptions: ort.InferenceSession.SessionOptions,
  what: string,
): Promise<SessionRunner> {
  const rpc = await WorkerRpc.open<{ inputNames: string[]; outputNames: string[] }>(
    new URL("./session-worker-thread.js", import.meta.url),
    {
      what,
      data: { modelPath, sessionOptions },
      loads: modelPath,
      whenGone: "create the backend again",
    },
  );
  return {
    inputNames: rpc.info.inputNames,
    outputNames: rpc.info.outputNames,
    async run(feeds, fetches, options = {}) {
      const handOver = new Set(options.transfer ?? []);
      const transfer = new Set<ArrayBuffer>();
      const wire: Record<string, WireTensor> = {};
      // A feed not handed over is cloned (a part of a buffer copied out alone): the caller's stays intact.
      for (const [name, tensor] of Object.entries(feeds))
        wire[name] = { type: tensor.type, dims: tensor.dims, data: wireView(tensor.data, handOver.has(name) ? transfer : undefined) };
      const outputs = await rpc.call<Record<string, WireTensor>>("run", { feeds: wire, fetches: [...fetches] }, transfer);
      const result: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(outputs)) result[name] = new ort.Tensor(t.type, t.data as never, t.dims);
      return result;
    },
    release: () => rpc.dispose(),
  };
}
