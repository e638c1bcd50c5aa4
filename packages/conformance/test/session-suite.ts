// Cases of core's GenerationSession that only a session has (the SteeringBackend cases run
// through sessions too: the "… session" engines of suite.ts). Called from each session engine's
// test file, on the real default model, a few tokens per case.
import { DisposedError, type Generation, type SessionBackend, type SteeringSpec } from "@emosteer/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countingPrompt, modelIdentity, openSessionEngine, type SessionEngineName, vectorFor } from "./engines.js";

export function defineSessionSuite(name: SessionEngineName): void {
  describe(`${name} generation session`, () => {
    let backend: SessionBackend;
    let prompts: string[];
    let strong: (alpha: number) => SteeringSpec;

    beforeAll(async () => {
      backend = await openSessionEngine(name);
      // Counting prompts of different lengths: greedy decoding keeps counting, so no request ends early.
      prompts = [await countingPrompt(backend, 12), await countingPrompt(backend, 20), await countingPrompt(backend, 16)];
      const vector = vectorFor(modelIdentity(backend.model));
      strong = (alpha) => ({ terms: [{ vector, alpha }], normalization: "unit", injection: "per-layer" });
    });

    afterAll(async () => {
      await backend?.dispose();
    });

    it("decodes ≥ 2 sequences in one run; a short request leaves early and a waiting one joins", async () => {
      const session = backend.createSession({ parallelSequences: 2 });
      try {
        const done: number[] = [];
        const track = (i: number) => (g: Generation) => {
          done.push(i);
          return g;
        };
        // The third request waits for a free sequence: it joins when the second leaves.
        const generations = await Promise.all([6, 2, 2].map((maxTokens, i) => session.generate(prompts[i]!, { maxTokens }).then(track(i))));
        expect(generations.map((g) => g.tokens.length)).toEqual([6, 2, 2]);
        expect(done.indexOf(1)).toBeLessThan(done.indexOf(0));
        expect(done.indexOf(2)).toBeLessThan(done.indexOf(0));
        expect(session.stats.maxSequencesInOneRun).toBe(2);
        expect(session.stats.sharedRuns).toBeGreaterThan(0);
        expect(session.stats.promptRuns).toBe(3);
      } finally {
        await session.dispose();
      }
    });

    it("zero cross-talk: a sequence's greedy tokens do not change when its neighbours' steering changes", async () => {
      const run = async (steering: readonly (SteeringSpec | null)[]) => {
        const session = backend.createSession({ parallelSequences: 3 });
        try {
          return (await Promise.all(prompts.map((p, i) => session.generate(p, { maxTokens: 4, steering: steering[i] ?? null })))).map(
            (g) => g.tokens,
          );
        } finally {
          await session.dispose();
        }
      };
      const a = await run([strong(20), null, null]);
      const b = await run([strong(20), strong(-20), strong(20)]);
      expect(b[0]).toEqual(a[0]);
      expect(b.slice(1)).not.toEqual(a.slice(1));
    });

    it("dispose rejects its running and waiting generations with DisposedError; the backend stays usable", async () => {
      const session = backend.createSession({ parallelSequences: 1 });
      let disposing: Promise<void> | undefined;
      const running = session.generate(prompts[0]!, { maxTokens: 8, onToken: () => (disposing ??= session.dispose()) });
      const waiting = session.generate(prompts[1]!, { maxTokens: 2 });
      const outcomes = await Promise.allSettled([running, waiting]);
      for (const outcome of outcomes) {
        expect(outcome.status).toBe("rejected");
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(DisposedError);
      }
      await disposing;
      await expect(session.generate(prompts[0]!, { maxTokens: 1 })).rejects.toThrow(DisposedError);
      expect((await backend.generate(prompts[0]!, { maxTokens: 2 })).tokens).toHaveLength(2);
      const next = backend.createSession({ parallelSequences: 1 });
      expect((await next.generate(prompts[0]!, { maxTokens: 2 })).tokens).toHaveLength(2);
      await next.dispose();
    });
  });
}
