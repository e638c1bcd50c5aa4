// @ts-check
// How typed arrays cross between threads, written once for both ends of worker-rpc (the caller's
// worker-rpc.ts and the thread's worker-rpc-thread.js). Plain JavaScript so the worker thread can
// import it as it is, from src/ (vitest, tsx) and from dist/ alike.

/**
 * The view to post and, when `transfer` is given, the buffer to transfer with it. A view spanning
 * its whole buffer is posted as it is (its buffer transferred: no copy, the sender's view reads as
 * empty afterwards). A view on part of a buffer is copied out first: transferring its buffer would
 * detach the sender's other views on it, and cloning it would copy the entire buffer. Other values
 * pass through untouched.
 * @template T
 * @param {T} value
 * @param {Set<ArrayBuffer>} [transfer]
 * @returns {T}
 */
export function wireView(value, transfer) {
  if (!ArrayBuffer.isView(value)) return value;
  const view = /** @type {ArrayBufferView} */ (value);
  const whole = view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
  const sent = whole ? view : /** @type {ArrayBufferView & { slice(): ArrayBufferView }} */ (view).slice();
  if (transfer && sent.buffer instanceof ArrayBuffer) transfer.add(sent.buffer);
  return /** @type {T} */ (sent);
}

/**
 * An error as it crosses the thread boundary (a structured clone loses an Error's class).
 * @param {unknown} error
 * @returns {{ name: string; message: string; stack?: string }}
 */
export function wireError(error) {
  return error instanceof Error
    ? { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) }
    : { name: "Error", message: String(error) };
}
