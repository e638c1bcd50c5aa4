import type { GenerationSession, GenerationSessionStats, SessionBackend, SteeringBackend } from "@emosteer/core";

/** What an engine session has done so far (core's `GenerationSessionStats`). */
export type EngineSessionStats = GenerationSessionStats;

/**
 * An engine session that decodes several generations in one run per step, each with its own
 * steering (core's `GenerationSession`: the ONNX and llama.cpp engines' `createSession`). The
 * server depends on core only and picks up any engine that offers it.
 */
export type EngineSession = GenerationSession;

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
