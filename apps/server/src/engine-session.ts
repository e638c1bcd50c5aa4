import type { ChatMessage, GenerateOptions, Generation, SteeringBackend } from "@emosteer/core";

/** What an engine session has done so far (the ONNX engine's `GenerationSessionStats`). */
export interface EngineSessionStats {
  /** Batched decode steps (one engine run each). */
  readonly decodeRuns: number;
  /** Decode steps that carried ≥ 2 sequences in their one run. */
  readonly sharedRuns: number;
  /** The most sequences one decode run carried. */
  readonly maxSequencesInOneRun: number;
}

/**
 * An engine session that decodes several generations in one run per step, each with its own
 * steering (issue 13; today the ONNX engine's `createSession`). Typed here by shape, so the server
 * depends on core only and picks up any engine that offers it.
 */
export interface EngineSession {
  readonly parallelSequences: number;
  generate(prompt: string | readonly ChatMessage[], options?: GenerateOptions): Promise<Generation>;
  readonly stats: EngineSessionStats;
  dispose(): Promise<void>;
}

interface SessionBackend extends SteeringBackend {
  createSession(options: { parallelSequences: number }): EngineSession;
}

function offersSessions(backend: SteeringBackend): backend is SessionBackend {
  return typeof (backend as Partial<SessionBackend>).createSession === "function";
}

/**
 * A batched session of `slots` sequences when the engine offers one and more than one slot is
 * asked for; otherwise undefined, and the server calls `backend.generate` one request at a time
 * (engines without sessions serialise their generations, so more slots would only queue inside).
 */
export function openEngineSession(backend: SteeringBackend, slots: number): EngineSession | undefined {
  if (slots < 2 || !offersSessions(backend)) return undefined;
  return backend.createSession({ parallelSequences: slots });
}
