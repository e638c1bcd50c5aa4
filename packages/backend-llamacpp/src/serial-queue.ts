/**
 * Runs tasks one at a time in call order. llama.cpp keeps the control vector and the KV cache on
 * the context, so two operations interleaving their decodes on one context would leak steering
 * into each other; every backend operation goes through this queue.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
