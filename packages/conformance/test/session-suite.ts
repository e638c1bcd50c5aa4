// Cases of core's GenerationSession that only a session has (the SteeringBackend cases run
// through sessions too: the "… session" engines of suite.ts). Called from each session engine's
// test file, on the real default model, a few tokens per case.
import { DisposedError, type Generation, type SessionBackend, type SteeringSpec } from "@emosteer/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countingPrompt, F32_SESSION_ENGINES, modelIdentity, openSessionEngine, type SessionEngineName, vectorFor } from "./engines.js";

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

    it("a session made without options has the engine's capabilities.parallelSequences sequences", async () => {
      const session = backend.createSession();
      try {
        expect(session.parallelSequences).toBe(backend.capabilities.parallelSequences);
      } finally {
        await session.dispose();
      }
    });

    /**
     * Batched equals alone, on the engines whose numerics are F32. Tolerance: greedy tokens
     * identical. A batched run changes the matmul shapes (rows, padded key length), which may
     * reorder float sums, but every row's logits stay within onnxruntime's padded-batch agreement
     * (≤ 1e-3, onnx-export's export.test.ts) of its single run, far below the top-2 gaps of these
     * few greedy counting steps. llama.cpp is left out: its quantized kernels differ per batch
     * shape, so its session tests compare runs of the same schedule only.
     */
    describe.runIf(F32_SESSION_ENGINES.includes(name))("batched rows equal their own generate", () => {
      // 3 in flight, 4 requests of different lengths: the second leaves early, the fourth joins when it does.
      const maxTokens = [6, 3, 6, 4];
      let four: string[];
      beforeAll(async () => {
        four = [...prompts, await countingPrompt(backend, 8)];
      });
      const together = async (steering: readonly (SteeringSpec | null)[]) => {
        const session = backend.createSession({ parallelSequences: 3 });
        try {
          const generations = await Promise.all(
            four.map((p, i) => session.generate(p, { maxTokens: maxTokens[i]!, steering: steering[i] ?? null })),
          );
          return { tokens: generations.map((g) => g.tokens), stats: session.stats };
        } finally {
          await session.dispose();
        }
      };
      const alone = async (steering: readonly (SteeringSpec | null)[]) => {
        const out: (readonly number[])[] = [];
        for (const [i, p] of four.entries())
          out.push((await backend.generate(p, { maxTokens: maxTokens[i]!, steering: steering[i] ?? null })).tokens);
        return out;
      };

      it("with different steering per row (one row unsteered), ≥ 2 sequences in one run", async () => {
        const different = [strong(20), strong(-20), strong(10), null];
        const batched = await together(different);
        expect(batched.tokens).toEqual(await alone(different));
        expect(batched.stats.maxSequencesInOneRun).toBe(3);
        expect(batched.stats.sharedRuns).toBeGreaterThan(0);
        expect(batched.stats.promptRuns).toBe(four.length);
      });

      it("with the same steering on every row", async () => {
        const same = four.map(() => strong(20));
        expect((await together(same)).tokens).toEqual(await alone(same));
      });
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
