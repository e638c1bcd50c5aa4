import { AbortedError } from "../errors.js";
import type { GenerateOptions, Generation } from "../steering-backend.js";

/** One `generate` call of a session, checked and waiting for (or holding) a place in the batch. */
export interface SessionRequest<J> {
  /** What the engine prepared from the call (tokens, steering, sampler...). */
  readonly job: J;
  readonly options: GenerateOptions;
  /** `performance.now()` when the call was made: the origin of its prompt and first-token times. */
  readonly called: number;
  /** Settles the call (and stops listening to its signal). */
  resolve(generation: Generation): void;
  reject(error: unknown): void;
}

/**
 * The requests of a batched session waiting for a free sequence, in arrival order. It exists so
 * that every session engine keeps the same promise about a queued call: an abort while it waits
 * takes it out of the queue at once and rejects it with `AbortedError`, so it never evaluates its
 * prompt; once a request settles, its abort listener is gone.
 */
export class SessionQueue<J> {
  private readonly waiting: SessionRequest<J>[] = [];

  /** `what` names the generation in errors ("ONNX session generation"). */
  constructor(private readonly what: string) {}

  get length(): number {
    return this.waiting.length;
  }

  /** Queues a call; the promise settles when the session resolves or rejects its request. */
  add(job: J, options: GenerateOptions, called: number): Promise<Generation> {
    return new Promise<Generation>((resolve, reject) => {
      const { signal } = options;
      // A queued request leaves the queue the moment its signal aborts (it never prefills).
      const onAbort = () => {
        const at = this.waiting.indexOf(request);
        if (at === -1) return;
        this.waiting.splice(at, 1);
        reject(new AbortedError(this.what));
      };
      const settle = () => signal?.removeEventListener("abort", onAbort);
      const request: SessionRequest<J> = {
        job,
        options,
        called,
        resolve: (g) => {
          settle();
          resolve(g);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(request);
    });
  }

  /** The oldest waiting request, taken out of the queue (its abort no longer removes it). */
  shift(): SessionRequest<J> | undefined {
    return this.waiting.shift();
  }

  /** Every waiting request, taken out of the queue (to reject them all). */
  drain(): SessionRequest<J>[] {
    return this.waiting.splice(0);
  }
}
