import { AbortedError } from "@emosteer/core";

/**
 * Runs tasks one at a time in call order. llama.cpp keeps the control vector and the KV cache on
 * the context, so two operations interleaving their decodes on one context would leak steering
 * into each other; every backend operation goes through this queue. A task whose signal aborts
 * while it waits rejects at once with `AbortedError` and never runs (a queued generation never
 * evaluates its prompt).
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>, signal?: AbortSignal, what = "Queued work"): Promise<T> {
    let cancel: (() => void) | undefined;
    const turn = this.tail.then(
      () => undefined,
      () => undefined,
    );
    const result = turn.then(() => {
      if (signal) signal.removeEventListener("abort", cancel!);
      if (signal?.aborted) throw new AbortedError(what);
      return task();
    });
    this.tail = result.catch(() => undefined);
    if (!signal) return result;
    // Reject the caller right away; the queue slot itself passes on without running the task.
    return new Promise<T>((resolve, reject) => {
      cancel = () => reject(new AbortedError(what));
      signal.addEventListener("abort", cancel, { once: true });
      result.then(resolve, reject);
    });
  }
}
