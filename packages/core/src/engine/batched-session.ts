import { AbortedError, DisposedError, InvalidArgumentError } from "../errors.js";
import type { GenerationSession, GenerationSessionOptions, GenerationSessionStats } from "../generation-session.js";
import type { ChatMessage, GenerateOptions, Generation } from "../steering-backend.js";
import { yieldToEventLoop } from "./event-loop.js";
import { SessionQueue, type SessionRequest } from "./session-queue.js";
import type { SessionJob, SessionRow } from "./session-row.js";

/**
 * `options.parallelSequences`, or the engine's default: a whole number from 1 to `max` (the
 * engine's own bound, if it has one), else `InvalidArgumentError`.
 */
export function resolveParallelSequences(options: GenerationSessionOptions, fallback: number, max = Number.POSITIVE_INFINITY): number {
  const parallel = options.parallelSequences ?? fallback;
  if (!(Number.isSafeInteger(parallel) && parallel >= 1 && parallel <= max))
    throw new InvalidArgumentError(
      "parallelSequences",
      parallel,
      Number.isFinite(max) ? `a whole number from 1 to ${max}` : "a whole number ≥ 1",
    );
  return parallel;
}

/**
 * The scheduler of a `GenerationSession`, written once so that every session engine queues,
 * admits, aborts, fails and counts the same way (the conformance suite's session cases): calls
 * wait in a {@link SessionQueue}; at each step boundary aborted rows end "abort" and leave (a row
 * still in its prompt pass rejects with `AbortedError`: no token exists yet), waiting requests are
 * admitted while a sequence is free, and the active rows decode together in one engine run; an
 * error of a run (a dispose among them) rejects every running and waiting request. The engine
 * supplies only what is its own: preparing a call, the admission (the request's whole prompt
 * pass and first token, after which its row joins the next step), the batched step and freeing a
 * row's resources.
 */
export abstract class BatchedSession<J extends SessionJob, R extends SessionRow<J>> implements GenerationSession {
  private readonly queue: SessionQueue<J>;
  private active: R[] = [];
  /** Rows done but not yet out of the batch: they leave at the next step boundary. */
  private readonly finished = new Set<R>();
  private loop: Promise<void> | null = null;
  private readonly counts = { decodeRuns: 0, sharedRuns: 0, maxSequencesInOneRun: 0, promptRuns: 0 };

  /** `what` names a generation of this session in errors ("llama.cpp session generation"). */
  constructor(
    readonly parallelSequences: number,
    protected readonly what: string,
  ) {
    this.queue = new SessionQueue(what);
  }

  get stats(): GenerationSessionStats {
    return { ...this.counts };
  }

  // async: a refused call rejects (never throws), as on the backend.
  async generate(prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): Promise<Generation> {
    this.assertAlive();
    const called = performance.now();
    // The backend's own checks: a bad argument refuses even an already aborted call.
    const job = this.prepare(prompt, options);
    if (options.signal?.aborted) throw new AbortedError(this.what);
    const generation = this.queue.add(job, options, called);
    this.loop ??= this.startLoop(() => this.run());
    return generation;
  }

  abstract dispose(): Promise<void>;

  /** Throws `DisposedError` when the session or its backend was disposed. */
  protected abstract assertAlive(): void;
  /** Checks a call and prepares it, throwing the errors the backend's own generate throws. */
  protected abstract prepare(prompt: string | readonly ChatMessage[], options: GenerateOptions): J;
  /**
   * The request's row after its prompt pass and first token (`row.promptDone()`, `row.accept`),
   * which joins the batch unless already done. Throws to reject the request (after freeing what
   * it took); a `DisposedError` also fails every other request.
   */
  protected abstract admit(request: SessionRequest<J>): Promise<R>;
  /** One engine run over every active row (in this order): each row takes its next token (`row.accept`). */
  protected abstract step(rows: readonly R[]): Promise<void>;
  /** Rows that left the batch (done, or failed with the rest): free what they hold. */
  protected abstract leave(rows: readonly R[]): void;

  /** Work at the start of each round, before any admission (e.g. making the engine context on first use). */
  protected beforeRound(): Promise<void> | void {}

  /** Starts the scheduler's loop (an engine may count it as in flight, so its own dispose waits for it). */
  protected startLoop(run: () => Promise<void>): Promise<void> {
    return run();
  }

  /** The running loop, if any: a dispose awaits it, after which no engine run is in progress. */
  protected get running(): Promise<void> | null {
    return this.loop;
  }

  protected countPromptRun(): void {
    this.counts.promptRuns++;
  }

  /** Counts one batched decode run that carried `sequences` sequences. */
  protected countDecodeRun(sequences: number): void {
    this.counts.decodeRuns++;
    if (sequences >= 2) this.counts.sharedRuns++;
    this.counts.maxSequencesInOneRun = Math.max(this.counts.maxSequencesInOneRun, sequences);
  }

  /** Admit at step boundaries, one batched run per step, until no work is left. */
  private async run(): Promise<void> {
    // `loop` is cleared in the same turn as the last check for work (no await between them), so a
    // request queued after that check starts a new loop instead of waiting for a finished one.
    for (;;) {
      if (this.queue.length === 0 && this.active.length === 0) {
        this.loop = null;
        return;
      }
      // Timers first: an abort due before a prompt pass must keep it from running.
      await yieldToEventLoop({ timers: this.queue.length > 0 });
      try {
        this.assertAlive();
        const ready = this.beforeRound();
        if (ready) await ready;
        for (const row of this.active) if (row.request.options.signal?.aborted) row.finish("abort");
        this.dropFinished();
        while (this.active.length < this.parallelSequences && this.queue.length > 0) await this.admitNext(this.queue.shift()!);
        if (this.active.length > 0) {
          await this.step(this.active);
          this.dropFinished();
        }
      } catch (error) {
        this.leave([...this.active, ...this.finished]);
        for (const r of [...this.active.map((row) => row.request), ...this.queue.drain()]) r.reject(error);
        this.active = [];
        this.finished.clear();
      }
    }
  }

  private async admitNext(request: SessionRequest<J>): Promise<void> {
    if (request.options.signal?.aborted) return request.reject(new AbortedError(this.what));
    let row: R;
    try {
      row = await this.admit(request);
    } catch (error) {
      request.reject(error);
      if (error instanceof DisposedError) throw error; // fails everything else too, in run()
      return;
    }
    if (row.done) this.finished.add(row);
    else this.active.push(row);
  }

  private dropFinished(): void {
    for (const row of this.active) if (row.done) this.finished.add(row);
    if (this.finished.size === 0) return;
    this.leave([...this.finished]);
    this.active = this.active.filter((r) => !this.finished.has(r));
    this.finished.clear();
  }
}
