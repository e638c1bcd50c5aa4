import type { IncomingMessage } from "node:http";

/**
 * Reads and throws away what is left of a request body the server refuses (a 413), so the answer
 * reaches a client that is still uploading. Answering first and closing the socket makes the
 * client's next write fail (EPIPE) before it reads the 413: the client sees "fetch failed", not the
 * limit. Gives up after `maxBytes` or `timeoutMs` (a hostile upload is not read forever); returns
 * whether the whole body was read.
 */
export function discardUnreadBody(request: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<boolean> {
  if (request.complete || request.destroyed) return Promise.resolve(request.complete);
  return new Promise((resolve) => {
    let read = 0;
    const finish = (whole: boolean) => {
      clearTimeout(timer);
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("close", onClose);
      request.off("error", onClose);
      resolve(whole);
    };
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read > maxBytes) finish(false);
    };
    const onEnd = () => finish(true);
    const onClose = () => finish(request.complete);
    const timer = setTimeout(() => finish(false), timeoutMs);
    request.on("data", onData);
    request.once("end", onEnd);
    request.once("close", onClose);
    request.once("error", onClose);
    request.resume();
  });
}
