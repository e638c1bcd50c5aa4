import { offersSessions, type GenerationSession, type SteeringBackend } from "@emosteer/core";

/**
 * A batched session of `slots` sequences when the engine offers one (core's `GenerationSession`:
 * the ONNX and llama.cpp engines' `createSession`) and more than one slot is asked for; otherwise
 * undefined, and the server calls `backend.generate` one request at a time (engines without
 * sessions serialise their generations, so more slots would only queue inside).
 */
export function openEngineSession(backend: SteeringBackend, slots: number): GenerationSession | undefined {
  if (slots < 2 || !offersSessions(backend)) return undefined;
  return backend.createSession({ parallelSequences: slots });
}
