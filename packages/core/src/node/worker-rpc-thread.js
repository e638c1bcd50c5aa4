// @ts-check
// The worker-thread end of worker-rpc.ts: it imports the handler module the caller named (its
// `open(data)` loads whatever the thread owns: an onnxruntime session, a transformers.js model)
// and serves the caller's calls with it, one at a time and in order, so a handler never runs
// twice at once and the caller may keep a call queued here to keep the thread busy. Plain
// JavaScript on purpose: Node loads a worker's entry as it is, from src/ (vitest and tsx do not
// transform it) and from dist/ (tsc copies it).
import { parentPort, workerData } from "node:worker_threads";
import { wireError, wireView } from "./worker-rpc-wire.js";

const port = parentPort;
if (!port) throw new Error("worker-rpc-thread.js is a worker entry: start it through WorkerRpc.open (@emosteer/core/node).");

/** @typedef {import("./worker-rpc.js").WorkerHandlers} WorkerHandlers */

/** @type {WorkerHandlers | null} */
let handlers = null;
try {
  const module = await import(workerData.module);
  if (typeof module.open !== "function") throw new Error(`${workerData.module} exports no open(data) function`);
  handlers = await module.open(workerData.data);
  port.postMessage({ kind: "ready", info: handlers?.info ?? null });
} catch (error) {
  port.postMessage({ kind: "failed", error: wireError(error) });
}

/** @param {{ kind: "call"; id: number; method: string; payload: unknown } | { kind: "close" }} message */
const handle = async (message) => {
  if (message.kind === "close") {
    const closing = handlers;
    handlers = null;
    await Promise.resolve(closing?.close?.()).catch(() => {});
    port.postMessage({ kind: "closed" });
    return;
  }
  const { id, method, payload } = message;
  /** @type {Set<ArrayBuffer>} */
  const transfer = new Set();
  try {
    if (!handlers) throw new Error("the worker was closed");
    const handler = handlers.methods[method];
    if (typeof handler !== "function") throw new Error(`the worker has no method ${JSON.stringify(method)}`);
    // `handOver` marks a typed array of the reply for transfer (a part of a buffer is copied out).
    const value = await handler(payload, { handOver: (view) => wireView(view, transfer) });
    port.postMessage({ kind: "reply", id, value }, [...transfer]);
  } catch (error) {
    port.postMessage({ kind: "error", id, error: wireError(error) });
  }
};

/** @type {Promise<void>} */
let queue = Promise.resolve();
port.on("message", (message) => {
  queue = queue.then(() => handle(message));
});
