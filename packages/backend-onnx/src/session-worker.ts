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
  /**
   * State carried from run to run in the session's own thread: the outputs named in `carry`
   * (output name → the input name it feeds next) are kept under `key` instead of returned, and
   * every run naming the same `key` gets them as feeds (its own feeds win). A decode loop then
   * moves only its token and its logits between threads, never the KV cache: handing 14 MB of
   * fresh buffers to the caller every step made V8 run a full GC of the caller's heap per token.
   * Free the state with {@link SessionRunner.dropState}.
   */
  readonly state?: CarriedState;
}

export interface CarriedState {
  readonly key: string;
  readonly carry: Readonly<Record<string, string>>;
}

/** One loaded onnxruntime session, wherever it runs: the only thing a backend runs the model through. */
export interface SessionRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** One session run; the outputs are the caller's own (their buffers are not shared with anything). */
  run(feeds: Record<string, ort.Tensor>, fetches: readonly string[], options?: RunOptions): Promise<ort.InferenceSession.ReturnType>;
  /** Frees the state a run kept under `key` ({@link RunOptions.state}); nothing if there is none. */
  dropState(key: string): Promise<void>;
  /** Releases the session (and stops its worker). Runs still pending reject with `DisposedError`. */
  release(): Promise<void>;
}

/** One run with carried state, on whichever thread holds the session and `states`. */
export async function runCarrying(
  run: (feeds: Record<string, ort.Tensor>, fetches: readonly string[]) => Promise<ort.InferenceSession.ReturnType>,
  states: Map<string, Record<string, ort.Tensor>>,
  feeds: Record<string, ort.Tensor>,
  fetches: readonly string[],
  state: CarriedState | undefined,
): Promise<ort.InferenceSession.ReturnType> {
  if (!state) return run(feeds, fetches);
  const result = { ...(await run({ ...states.get(state.key), ...feeds }, fetches)) };
  const kept: Record<string, ort.Tensor> = {};
  for (const [output, input] of Object.entries(state.carry)) {
    const tensor = result[output];
    if (!tensor) throw new Error(`carried output "${output}" was not fetched: list it in the run's fetches`);
    kept[input] = tensor as ort.Tensor;
    delete result[output];
  }
  states.set(state.key, kept);
  return result;
}

/** Loads `modelPath` into a session on `thread` (`"worker"` by default). `what` names it in errors. */
export async function openSessionRunner(
  modelPath: string,
  sessionOptions: ort.InferenceSession.SessionOptions,
  { thread = "worker", what }: { readonly thread?: SessionThread; readonly what: string },
): Promise<SessionRunner> {
  if (thread === "caller") {
    const session = await ort.InferenceSession.create(modelPath, sessionOptions);
    const states = new Map<string, Record<string, ort.Tensor>>();
    return {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      run: (feeds, fetches, options = {}) => runCarrying((f, n) => session.run(f, [...n]), states, feeds, fetches, options.state),
      dropState: async (key) => {
        states.delete(key);
      },
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
      const outputs = await rpc.call<Record<string, WireTensor>>(
        "run",
        { feeds: wire, fetches: [...fetches], ...(options.state ? { state: options.state } : {}) },
        transfer,
      );
      const result: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(outputs)) result[name] = new ort.Tensor(t.type, t.data as never, t.dims);
      return result;
    },
    dropState: async (key) => {
      await rpc.call("dropState", { key });
    },
    release: () => rpc.dispose(),
  };
}
