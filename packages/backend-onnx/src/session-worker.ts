import { Worker } from "node:worker_threads";
import { DisposedError, EmosteerError } from "@emosteer/core";
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
  return SessionWorker.open(modelPath, sessionOptions, what);
}

interface WireTensor {
  readonly type: ort.Tensor.Type;
  readonly dims: readonly number[];
  readonly data: ort.Tensor.DataType;
}
interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}
type FromWorker =
  | { readonly kind: "ready"; readonly inputNames: string[]; readonly outputNames: string[] }
  | { readonly kind: "failed"; readonly error: WireError }
  | { readonly kind: "result"; readonly id: number; readonly outputs: Record<string, WireTensor> }
  | { readonly kind: "error"; readonly id: number; readonly error: WireError }
  | { readonly kind: "released" };

/** The worker's error as an `Error` of this thread, with its name and message (onnxruntime's own text). */
function fromWire(error: WireError): Error {
  const out = new Error(error.message);
  out.name = error.name;
  if (error.stack) out.stack = error.stack;
  return out;
}

/**
 * The session in a worker thread (`session-worker-thread.js`). Runs are messages: feeds go over
 * with the buffers the caller hands over transferred, outputs come back transferred, so a step
 * moves the KV cache between the threads without copying it. The worker holds the process open
 * only while a run or the load is pending, as a session on the caller's thread would.
 */
class SessionWorker implements SessionRunner {
  private readonly pending = new Map<number, { resolve(result: ort.InferenceSession.ReturnType): void; reject(error: unknown): void }>();
  private nextId = 0;
  private stopped: Error | null = null;
  private released: Promise<void> | null = null;

  private constructor(
    private readonly worker: Worker,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    private readonly what: string,
  ) {
    worker.on("message", (message: FromWorker) => this.receive(message));
    worker.on("error", (error) =>
      this.stop(new EmosteerError(`${what}: its worker thread failed (${error.message}); create the backend again.`)),
    );
    worker.on("exit", (code) =>
      this.stop(new EmosteerError(`${what}: its worker thread exited (code ${code}); create the backend again.`)),
    );
    worker.unref();
  }

  static open(modelPath: string, sessionOptions: ort.InferenceSession.SessionOptions, what: string): Promise<SessionWorker> {
    const worker = new Worker(new URL("./session-worker-thread.js", import.meta.url), {
      workerData: { modelPath, sessionOptions },
      // The process's flags minus those a worker refuses (node --input-type=module -e '…' would stop it at start).
      execArgv: process.execArgv.filter((a) => !a.startsWith("--input-type")),
    });
    return new Promise<SessionWorker>((resolve, reject) => {
      const onExit = (code: number) =>
        reject(new EmosteerError(`${what}: its worker thread exited (code ${code}) while loading ${modelPath}.`));
      const onError = (error: Error) => {
        void worker.terminate();
        reject(new EmosteerError(`${what}: its worker thread failed while loading ${modelPath} (${error.message}).`, { cause: error }));
      };
      worker.once("error", onError);
      worker.once("exit", onExit);
      worker.once("message", (message: FromWorker) => {
        worker.off("error", onError);
        worker.off("exit", onExit);
        if (message.kind === "ready") resolve(new SessionWorker(worker, message.inputNames, message.outputNames, what));
        else {
          void worker.terminate();
          reject(message.kind === "failed" ? fromWire(message.error) : new Error(`${what}: unexpected first message ${message.kind}`));
        }
      });
    });
  }

  run(feeds: Record<string, ort.Tensor>, fetches: readonly string[], options: RunOptions = {}): Promise<ort.InferenceSession.ReturnType> {
    if (this.released) return Promise.reject(new DisposedError(this.what));
    if (this.stopped) return Promise.reject(this.stopped);
    const handOver = new Set(options.transfer ?? []);
    const wire: Record<string, WireTensor> = {};
    const transfer = new Set<ArrayBuffer>();
    for (const [name, tensor] of Object.entries(feeds)) {
      const data = tensor.data as ort.Tensor["data"] & { buffer?: unknown; byteOffset?: number; byteLength?: number };
      // Only a view that spans its whole buffer is handed over: transferring a part would detach the
      // caller's other views on that buffer. A part is copied out instead (sending it whole would
      // clone the entire buffer).
      const whole = data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
      const sent = whole || !ArrayBuffer.isView(data) ? data : (data as unknown as { slice(): ort.Tensor["data"] }).slice();
      wire[name] = { type: tensor.type, dims: tensor.dims, data: sent };
      if (handOver.has(name) && whole) transfer.add(data.buffer as ArrayBuffer);
    }
    const id = this.nextId++;
    return new Promise<ort.InferenceSession.ReturnType>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
      try {
        this.worker.postMessage({ kind: "run", id, feeds: wire, fetches: [...fetches] }, [...transfer]);
      } catch (error) {
        this.settle(id);
        reject(error);
      }
    });
  }

  release(): Promise<void> {
    this.released ??= (async () => {
      for (const id of [...this.pending.keys()]) this.settle(id)?.reject(new DisposedError(this.what));
      if (!this.stopped) {
        this.worker.ref();
        const done = new Promise<void>((resolve) => {
          const onMessage = (message: FromWorker) => {
            if (message.kind !== "released") return;
            this.worker.off("message", onMessage);
            resolve();
          };
          this.worker.on("message", onMessage);
          this.worker.once("exit", () => resolve());
        });
        this.worker.postMessage({ kind: "release" });
        await done;
      }
      this.stopped ??= new DisposedError(this.what);
      await this.worker.terminate();
    })();
    return this.released;
  }

  private receive(message: FromWorker): void {
    if (message.kind !== "result" && message.kind !== "error") return;
    const waiter = this.settle(message.id);
    if (!waiter) return;
    if (message.kind === "error") waiter.reject(fromWire(message.error));
    else {
      const outputs: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(message.outputs)) outputs[name] = new ort.Tensor(t.type, t.data as never, t.dims);
      waiter.resolve(outputs);
    }
  }

  /** Takes run `id` off the pending list; the worker may let the process exit once none is left. */
  private settle(id: number) {
    const waiter = this.pending.get(id);
    this.pending.delete(id);
    if (waiter && this.pending.size === 0) this.worker.unref();
    return waiter;
  }

  /** The worker is gone: every pending run rejects with `error`, later runs too. */
  private stop(error: Error): void {
    this.stopped ??= this.released ? new DisposedError(this.what) : error;
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(this.stopped);
  }
}
