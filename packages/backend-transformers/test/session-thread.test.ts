// Where a transformers.js session's forward passes run: in the backend's worker thread (the Node
// default) the caller's event loop stays free during a generation; on the calling thread each pass
// blocks it. Measured as event-loop turns, not time, so it holds on any CPU and under load.
import type { GenerationSession } from "@emosteer/core";
import { describe, expect, it } from "vitest";
import { createTransformersBackend, type SessionThread } from "../src/index.js";
import { exportedModelDir } from "./exported-model.js";

const PROMPT = [{ role: "user" as const, content: "Write a short story about a lighthouse keeper." }];
const TOKENS = 8;

/** This thread's event-loop turns (a setImmediate chain) per forward pass while `session` generates, and the generation. */
async function turnsPerPass(session: GenerationSession) {
  let turns = 0;
  let running = true;
  const spin = () => {
    if (!running) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const before = session.stats;
  const generation = await session.generate(PROMPT, { maxTokens: TOKENS });
  running = false;
  const passes = session.stats.decodeRuns - before.decodeRuns + session.stats.promptRuns - before.promptRuns;
  return { perPass: turns / passes, generation };
}

describe("transformers.js sessions off the calling thread (SmolLM2-135M fp32)", () => {
  it("leave the caller's event loop free during a generation, where the calling-thread path blocks it, with the same tokens", async () => {
    const modelDir = await exportedModelDir("fp32");
    const open = (sessionThread: SessionThread) => createTransformersBackend({ modelDir, contextSize: 96, sessionThread });
    const [worker, caller] = [await open("worker"), await open("caller")];
    try {
      const [onWorker, onCaller] = [worker.createSession(), caller.createSession()];
      await onWorker.generate(PROMPT, { maxTokens: 1 }); // loads the worker's model
      const w = await turnsPerPass(onWorker);
      const c = await turnsPerPass(onCaller);
      expect(w.generation.tokens).toEqual(c.generation.tokens);
      expect(w.generation.tokens).toHaveLength(TOKENS);
      // On the calling thread a pass runs between two turns: only the session's own yields (a few a
      // pass) come through. In the worker, this thread idles for the whole pass (milliseconds, a
      // turn takes microseconds), so it keeps turning.
      expect(c.perPass).toBeLessThanOrEqual(8);
      expect(w.perPass).toBeGreaterThan(10 * Math.max(1, c.perPass));
    } finally {
      await worker.dispose();
      await caller.dispose();
    }
  });
});
