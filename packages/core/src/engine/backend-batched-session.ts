import { DisposedError } from "../errors.js";
import { BatchedSession } from "./batched-session.js";
import type { SessionJob, SessionRow } from "./session-row.js";

/**
 * A {@link BatchedSession} on a backend's loaded model, with the lifecycle every such session
 * shares: `dispose()` refuses new calls, lets the running step finish (after which no engine run
 * is in progress) and ends every request with `DisposedError`; the session is dead as well once
 * its backend is disposed.
 */
export abstract class BackendBatchedSession<J extends SessionJob, R extends SessionRow<J>> extends BatchedSession<J, R> {
  private isDisposed = false;

  /**
   * `names.session` and `names.backend` name what a `DisposedError` says was disposed
   * ("ONNX generation session", "ONNX backend for smollm2"); `backend.disposed` is read at every check.
   */
  constructor(
    parallelSequences: number,
    what: string,
    private readonly names: { readonly session: string; readonly backend: string },
    private readonly backend: { readonly disposed: boolean },
  ) {
    super(parallelSequences, what);
  }

  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    this.isDisposed = true;
    await this.running;
  }

  protected assertAlive(): void {
    if (this.isDisposed) throw new DisposedError(this.names.session);
    if (this.backend.disposed) throw new DisposedError(this.names.backend);
  }
}
