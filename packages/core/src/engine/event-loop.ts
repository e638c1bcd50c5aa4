/**
 * Lets the event loop run before the next step of a model that computes without yielding
 * (onnxruntime-node runs a session on the calling thread): an abort from a socket or a timer can
 * only be seen if its callback gets to run. `timers: true` waits for a timer turn, so timers that
 * came due during a long step (a prompt pass) fire first; otherwise the cheapest turn is taken
 * (setImmediate in Node, a message in browsers), which costs microseconds per generated token.
 */
export function yieldToEventLoop(options: { readonly timers?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
    if (options.timers || (!immediate && typeof MessageChannel === "undefined")) setTimeout(resolve, 0);
    else if (immediate) immediate(resolve);
    else {
      const channel = new MessageChannel();
      const port = channel.port1 as unknown as { onmessage: (() => void) | null; close(): void };
      port.onmessage = () => {
        port.close();
        resolve();
      };
      channel.port2.postMessage(null);
    }
  });
}
