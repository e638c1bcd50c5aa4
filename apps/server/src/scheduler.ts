import { ApiError } from "./api-error.js";

export interface SchedulerOptions {
  /**
   * Generations that run at once. 1 for today's engines, which serve one generation at a time; an
   * engine session that batches sequences (issue 13's `parallelSequences`) raises it, and the
   * scheduler then only fills its slots.
   */
  readonly slots: number;
  /** Requests that may wait for a slot; one more is refused with a 429. */
  readonly maxQueue: number;
  /**
   * Deterministic-schedule mode (tests, benchmarks): jobs start only in groups of this many, all
   * in one turn and in arrival order, once no job runs and this many wait (or the scheduler
   * drains). So a batching engine session sees the whole group before its first step, each job in
   * the row of its arrival. At most `slots`; off (jobs start as slots free) when unset.
   */
  readonly startTogether?: number;
}

/** Why a job's signal was aborted: the scheduler tells these apart from the client going away. */
export type AbortCause = "disconnect" | "timeout";

interface Waiting {
  readonly start: () => void;
  readonly fail: (error: unknown) => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

/**
 * A bounded FIFO queue in front of a fixed number of generation slots. A job gets the slot when one
 * frees; a job whose signal aborts while it waits leaves the queue at once (it never reaches the
 * engine), and one that aborts while it runs keeps the slot until the engine notices the signal,
 * at the next token. `drain()` refuses new jobs and waits for every admitted one.
 */
export class Scheduler {
  private readonly waiting: Waiting[] = [];
  private active = 0;
  private draining = false;
  private idle: (() => void)[] = [];
  /** Recent job durations (ms), to estimate Retry-After. */
  private readonly recent: number[] = [];

  constructor(readonly options: SchedulerOptions) {
    if (!(Number.isInteger(options.slots) && options.slots >= 1))
      throw new RangeError(`slots must be a whole number ≥ 1, got ${options.slots}.`);
    if (!(Number.isInteger(options.maxQueue) && options.maxQueue >= 0))
      throw new RangeError(`maxQueue must be a whole number ≥ 0, got ${options.maxQueue}.`);
    const group = options.startTogether;
    if (group !== undefined && !(Number.isInteger(group) && group >= 1 && group <= options.slots && group <= options.maxQueue))
      throw new RangeError(
        `startTogether must be a whole number from 1 to slots (${options.slots}) and maxQueue (${options.maxQueue}), got ${group}.`,
      );
  }

  /** Jobs waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Jobs holding a slot. */
  get running(): number {
    return this.active;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Admits a job, or throws at once: a 429 (with Retry-After) when the queue is full, a 503 while
   * draining. The returned promise settles when the job has run; it rejects with `signal.reason`
   * if the signal aborts before the job starts.
   */
  run<T>(job: () => Promise<T>, signal: AbortSignal): Promise<T> {
    if (this.draining)
      throw new ApiError(
        503,
        "The server is shutting down and takes no new requests; retry on another instance.",
        "server_error",
        null,
        "shutting_down",
      );
    if (signal.aborted) return Promise.reject(signal.reason);
    const execute = async (): Promise<T> => {
      const started = performance.now();
      try {
        return await job();
      } finally {
        this.remember(performance.now() - started);
        this.active--;
        this.next();
      }
    };
    if (this.options.startTogether === undefined && this.active < this.options.slots && this.waiting.length === 0) {
      this.active++;
      return execute();
    }
    if (this.waiting.length >= this.options.maxQueue) {
      const retryAfter = this.retryAfterSeconds();
      throw new ApiError(
        429,
        `The server is busy: ${this.active} generation(s) running and ${this.waiting.length} waiting, the most its queue holds (--max-queue ${this.options.maxQueue}). Retry in about ${retryAfter} s.`,
        "rate_limit_error",
        null,
        "queue_full",
        { "retry-after": String(retryAfter) },
      );
    }
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = {
        signal,
        start: () => {
          signal.removeEventListener("abort", entry.onAbort);
          execute().then(resolve, reject);
        },
        fail: reject,
        onAbort: () => {
          const at = this.waiting.indexOf(entry);
          if (at !== -1) this.waiting.splice(at, 1);
          this.settleIfIdle();
          reject(signal.reason);
        },
      };
      signal.addEventListener("abort", entry.onAbort, { once: true });
      this.waiting.push(entry);
      this.next();
    });
  }

  /** Refuses new jobs and resolves once every admitted job (queued or running) has finished. */
  drain(): Promise<void> {
    this.draining = true;
    return new Promise((resolve) => {
      this.idle.push(resolve);
      this.next(); // a group that will never fill starts as it is
    });
  }

  /** Seconds until a slot is likely free for one more job: the mean recent job time × jobs ahead / slots, at least 1. */
  retryAfterSeconds(): number {
    const mean = this.recent.length ? this.recent.reduce((a, b) => a + b, 0) / this.recent.length : 1000;
    return Math.max(1, Math.ceil(((this.waiting.length + 1) * mean) / this.options.slots / 1000));
  }

  private next(): void {
    const group = this.options.startTogether;
    if (group !== undefined && (this.active > 0 || (this.waiting.length < group && !this.draining))) {
      this.settleIfIdle();
      return;
    }
    while (this.active < this.options.slots && this.waiting.length > 0) {
      const entry = this.waiting.shift()!;
      this.active++;
      entry.start();
    }
    this.settleIfIdle();
  }

  private settleIfIdle(): void {
    if (!this.draining || this.active > 0 || this.waiting.length > 0) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private remember(ms: number): void {
    this.recent.push(ms);
    if (this.recent.length > 20) this.recent.shift();
  }
}
