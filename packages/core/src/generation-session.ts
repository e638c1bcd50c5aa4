import type { ChatMessage, GenerateOptions, Generation, SteeringBackend } from "./steering-backend.js";

/** Options of an engine's `createSession` (see {@link GenerationSession}). */
export interface GenerationSessionOptions {
  /**
   * How many generations run at once, decoded together in one engine run per step. Defaults to
   * the engine's `capabilities.parallelSequences`.
   */
  readonly parallelSequences?: number;
}

/** What a session has done so far: proof that its sequences really share engine runs. */
export interface GenerationSessionStats {
  /** Batched decode steps (one engine run each: an ONNX session run, a llama_decode). */
  readonly decodeRuns: number;
  /** Decode steps that carried ≥ 2 sequences in their one run. */
  readonly sharedRuns: number;
  /** The most sequences one decode run carried. */
  readonly maxSequencesInOneRun: number;
  /** Prompts evaluated (one per admitted request, each in its own prompt pass). */
  readonly promptRuns: number;
}

/**
 * Generations that share an engine's loaded model and run together: up to `parallelSequences`
 * requests decode in one engine run per step, each its own sequence with its own steering (and its
 * `apply` phase) and its own sampler. Continuous batching: a request joins at the next step
 * boundary (its prompt evaluated alone first) and leaves when it is done, so a long request never
 * holds up a short one; requests beyond
 * `parallelSequences` wait in arrival order.
 *
 * `generate` keeps {@link SteeringBackend.generate}'s contract (argument checks, abort before /
 * while queued / during the prompt pass / during decoding, stop strings, context bound), with one
 * difference: **dispose** of the session rejects its queued and running generations with
 * `DisposedError` and leaves the backend usable; disposing the backend does the same to every
 * session on it.
 */
export interface GenerationSession {
  readonly parallelSequences: number;
  generate(prompt: string | readonly ChatMessage[], options?: GenerateOptions): Promise<Generation>;
  readonly stats: GenerationSessionStats;
  /** Rejects queued and running generations with `DisposedError`; idempotent; the backend stays usable. */
  dispose(): Promise<void>;
}

/** A backend that offers batched sessions (llama.cpp, ONNX, transformers.js). */
export interface SessionBackend extends SteeringBackend {
  createSession(options?: GenerationSessionOptions): GenerationSession;
}

/** Whether `backend` offers {@link SessionBackend.createSession}. */
export function offersSessions(backend: SteeringBackend): backend is SessionBackend {
  return typeof (backend as Partial<SessionBackend>).createSession === "function";
}
