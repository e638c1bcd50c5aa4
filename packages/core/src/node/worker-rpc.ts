import { Worker } from "node:worker_threads";
import { DisposedError, EmosteerError } from "../errors.js";
import { wireView } from "./worker-rpc-wire.js";

export { wireView };

/** What a handler gets beside its payload. */
export interface WorkerCallContext {
  /** Marks a typed array of the reply for transfer (no copy); a view on part of a buffer is copied out first. */
  handOver<T>(view: T): T;
}

/**
 * What a handler module's `open(data)` returns (in the worker thread). `info` goes back to the
 * caller once (the model's input names, say); `methods` answer calls; `close` frees what the
 * thread holds before it stops.
 */
export interface WorkerHandlers {
  readonly info?: unknown;
  // biome-ignore lint/suspicious/noExplicitAny: each method declares its own payload type
  readonly methods: Record<string, (payload: any, context: WorkerCallContext) => unknown>;
  close?(): unknown;
}

export interface WorkerRpcOptions {
  /** Names the worker's owner in every error ("ONNX session of /models/x"). */
  readonly what: string;
  /** Passed to the handler module's `open(data)` (structured-cloned). */
  readonly data?: unknown;
  /** What to do once the thread is gone, appended to the error ("create the backend again"). */
  readonly whenGone?: string;
  /** What `open(data)` loads (a model's path), named when it fails: "cannot load <loads>: <the module's error>". */
  readonly loads?: string;
}

/** An error a handler threw in the worker thread: its name and message, and the thread's stack after the caller's. */
export class WorkerCallError extends EmosteerError {
  constructor(
    /** The worker's error class name (`Error`, `RangeError`, onnxruntime's own). */
    readonly remoteName: string,
    message: string,
    remoteStack?: string,
  ) {
    super(message);
    if (remoteStack) this.stack = `${this.stack}\n--- in the worker thread ---\n${remoteStack}`;
  }
}

/** The worker's flags: the process's minus those a worker refuses (`node --input-type=module -e '…'` would stop it at start). */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  return execArgv.filter((a) => !a.startsWith("--input-type"));
}

type FromWorker =
  | { readonly kind: "ready"; readonly info: unknown }
  | { readonly kind: "failed"; readonly error: WireError }
  | { readonly kind: "reply"; readonly id: number; readonly value: unknown }
  | { readonly kind: "error"; readonly id: number; readonly error: WireError }
  | { readonly kind: "closed" };
interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

/**
 * A worker thread serving calls, by request/response with ids: the one way emosteer runs work off
 * the caller's event loop (an onnxruntime session, a transformers.js model, MiniLM encoders). The
 * thread runs `worker-rpc-thread.js`, which imports the handler module at `module` (plain
 * JavaScript exporting `open(data): WorkerHandlers`) and answers calls one at a time, in order.
 * Typed arrays cross by transfer when the sender hands them over ({@link wireView}), else by copy.
 * A worker that crashes or exits rejects every pending call with an error naming `what`; after
 * `dispose` every call rejects with `DisposedError`. An idle worker does not hold the process
 * open; a pending call does.
 */
export class WorkerRpc<Info = unknown> {
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  private nextId = 0;
  /** Why calls fail now: the thread is gone (or disposed). */
  private stopped: Error | null = null;
  private disposing: Promise<void> | null = null;

  private constructor(
    private readonly worker: Worker,
    /** What the handler module's `open` returned as `info`. */
    readonly info: Info,
    private readonly options: WorkerRpcOptions,
  ) {
    const gone = options.whenGone ? `; ${options.whenGone}` : "";
    worker.on("message", (message: FromWorker) => this.receive(message));
    worker.on("error", (error) => this.stop(new EmosteerError(`${options.what}: its worker thread failed (${error.message})${gone}.`)));
    worker.on("exit", (code) => this.stop(new EmosteerError(`${options.what}: its worker thread exited (code ${code})${gone}.`)));
    worker.unref();
  }

  /** Starts a worker on the handler module at `module` and waits for its `open(data)`; its failure rejects, named. */
  static open<Info = unknown>(module: URL, options: WorkerRpcOptions): Promise<WorkerRpc<Info>> {
    const { what } = options;
    const worker = new Worker(new URL("./worker-rpc-thread.js", import.meta.url), {
      workerData: { module: module.href, data: options.data },
      execArgv: workerExecArgv(),
    });
    return new Promise<WorkerRpc<Info>>((resolve, reject) => {
      const onExit = (code: number) => reject(new EmosteerError(`${what}: its worker thread exited (code ${code}) while opening.`));
      const onError = (error: Error) => {
        void worker.terminate();
        reject(new EmosteerError(`${what}: its worker thread failed while opening (${error.message}).`, { cause: error }));
      };
      worker.once("error", onError);
      worker.once("exit", onExit);
      worker.once("message", (message: FromWorker) => {
        worker.off("error", onError);
        worker.off("exit", onExit);
        if (message.kind === "ready") return resolve(new WorkerRpc<Info>(worker, message.info as Info, options));
        void worker.terminate();
        reject(
          message.kind === "failed"
            ? fromWire(message.error, options.loads ? `${what}: cannot load ${options.loads}: ` : `${what}: cannot open: `)
            : new EmosteerError(`${what}: unexpected first message ${message.kind}`),
        );
      });
    });
  }

  /** True once `dispose` was called. */
  get disposed(): boolean {
    return this.disposing !== null;
  }

  /**
   * Calls `method` of the worker's handlers with `payload`. `transfer`: buffers that move to the
   * worker without a copy (put their views through {@link wireView} with the same set).
   */
  call<T>(method: string, payload: unknown, transfer: Iterable<ArrayBuffer> = []): Promise<T> {
    if (this.disposing) return Promise.reject(new DisposedError(this.options.what));
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.size === 1) this.worker.ref();
      try {
        this.worker.postMessage({ kind: "call", id, method, payload }, [...transfer]);
      } catch (error) {
        this.settle(id);
        reject(error);
      }
    });
  }

  /**
   * Closes the handlers and stops the thread. Calls still pending reject with `DisposedError` at
   * once, later calls too; the thread still computes the calls it had already received before it
   * closes (their results are dropped). Idempotent.
   */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      for (const id of [...this.pending.keys()]) this.settle(id)?.reject(new DisposedError(this.options.what));
      if (!this.stopped) {
        this.worker.ref();
        const closed = new Promise<void>((resolve) => {
          const onMessage = (message: FromWorker) => {
            if (message.kind !== "closed") return;
            this.worker.off("message", onMessage);
            resolve();
          };
          this.worker.on("message", onMessage);
          this.worker.once("exit", () => resolve());
        });
        this.worker.postMessage({ kind: "close" });
        await closed;
      }
      this.stopped ??= new DisposedError(this.options.what);
      await this.worker.terminate();
    })();
    return this.disposing;
  }

  private receive(message: FromWorker): void {
    if (message.kind !== "reply" && message.kind !== "error") return;
    const waiter = this.settle(message.id);
    if (!waiter) return;
    if (message.kind === "error") waiter.reject(fromWire(message.error, `${this.options.what}: `));
    else waiter.resolve(message.value);
  }

  /** Takes call `id` off the pending list; the worker may let the process exit once none is left. */
  private settle(id: number) {
    const waiter = this.pending.get(id);
    this.pending.delete(id);
    if (waiter && this.pending.size === 0) this.worker.unref();
    return waiter;
  }

  /** The thread is gone: every pending call rejects with `error`, later calls too (`DisposedError` once disposing). */
  private stop(error: Error): void {
    this.stopped ??= this.disposing ? new DisposedError(this.options.what) : error;
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(this.stopped);
  }
}

function fromWire(error: WireError, prefix: string): WorkerCallError {
  return new WorkerCallError(error.name, `${prefix}${error.message}`, error.stack);
}
