import { describe, expect, it, vi } from "vitest";
import { BatchedSession, resolveParallelSequences, type SessionRequest, SessionQueue, SessionRow } from "../src/engine/index.js";
import { AbortedError, DisposedError, type GenerateOptions, InvalidArgumentError } from "../src/index.js";

interface Job {
  readonly prompt: string;
  readonly promptTokens: readonly number[];
  readonly maxTokens: number;
  readonly stop: readonly string[];
}

/**
 * A model-free session engine: the prompt pass gives token 1, every decode step gives each row its
 * previous token + 1 after a timer turn (so aborts and disposes land between steps, as on a real
 * engine). It records what the scheduler asked of it.
 */
class CountingSession extends BatchedSession<Job, SessionRow<Job>> {
  readonly admitted: string[] = [];
  readonly left: string[] = [];
  readonly stepSizes: number[] = [];
  private isDisposed = false;

  /** When set, the prompt pass waits for it and then checks the session is alive (as ONNX's does). */
  constructor(
    parallel: number,
    private readonly promptGate?: Promise<void>,
  ) {
    super(parallel, "counting session generation");
  }

  async dispose(): Promise<void> {
    this.isDisposed = true;
    await this.running;
  }

  protected assertAlive(): void {
    if (this.isDisposed) throw new DisposedError("counting session");
  }

  protected prepare(prompt: string | readonly unknown[], options: GenerateOptions): Job {
    return { prompt: String(prompt), promptTokens: [0, 0, 0], maxTokens: options.maxTokens ?? 4, stop: [] };
  }

  protected async admit(request: SessionRequest<Job>): Promise<SessionRow<Job>> {
    this.admitted.push(request.job.prompt);
    if (this.promptGate) {
      await this.promptGate;
      this.assertAlive();
    }
    const row = new SessionRow(request, 1e6);
    this.countPromptRun();
    row.promptDone();
    row.accept(1, false, join);
    return row;
  }

  protected async step(rows: readonly SessionRow<Job>[]): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    this.countDecodeRun(rows.length);
    this.stepSizes.push(rows.length);
    this.assertAlive();
    for (const row of rows) row.accept(row.generated.at(-1)! + 1, false, join);
  }

  protected leave(rows: readonly SessionRow<Job>[]): void {
    for (const row of rows) this.left.push(row.job.prompt);
  }
}

const join = (tokens: readonly number[]) => tokens.join(",");

describe("SessionQueue", () => {
  it("an abort while queued takes the request out of the queue and rejects it with AbortedError", async () => {
    const queue = new SessionQueue<string>("test generation");
    const controller = new AbortController();
    const first = queue.add("a", {}, 0);
    const second = queue.add("b", { signal: controller.signal }, 0);
    expect(queue.length).toBe(2);
    controller.abort();
    await expect(second).rejects.toBeInstanceOf(AbortedError);
    expect(queue.length).toBe(1);
    const taken = queue.shift()!;
    expect(taken.job).toBe("a");
    taken.reject(new Error("settled by the test"));
    await expect(first).rejects.toThrow("settled by the test");
  });

  it("once taken out (admitted), an abort no longer rejects the request: the session settles it", async () => {
    const queue = new SessionQueue<string>("test generation");
    const controller = new AbortController();
    const generation = queue.add("a", { signal: controller.signal }, 0);
    const request = queue.shift()!;
    controller.abort();
    const done = { text: "x", tokens: [7], finishReason: "abort" as const, timings: {} as never };
    request.resolve(done);
    await expect(generation).resolves.toBe(done);
    expect(queue.drain()).toEqual([]);
  });
});

describe("BatchedSession (model-free engine)", () => {
  it("runs up to parallelSequences rows per step; a short row leaves and a waiting one joins", async () => {
    const session = new CountingSession(2);
    const [a, b, c] = await Promise.all([
      session.generate("a", { maxTokens: 5 }),
      session.generate("b", { maxTokens: 2 }),
      session.generate("c", { maxTokens: 3 }),
    ]);
    expect(a.tokens).toEqual([1, 2, 3, 4, 5]);
    expect(a.text).toBe("1,2,3,4,5");
    expect(a.finishReason).toBe("length");
    expect(b.tokens).toEqual([1, 2]);
    expect(c.tokens).toEqual([1, 2, 3]);
    expect(a.timings.promptTokens).toBe(3);
    expect(a.timings.generatedTokens).toBe(5);
    expect(Math.max(...session.stepSizes)).toBe(2);
    expect(session.admitted).toEqual(["a", "b", "c"]);
    expect(session.left.sort()).toEqual(["a", "b", "c"]);
    expect(session.stats.promptRuns).toBe(3);
    expect(session.stats.maxSequencesInOneRun).toBe(2);
    expect(session.stats.sharedRuns).toBeGreaterThan(0);
  });

  it("an abort while queued rejects with AbortedError and the request is never admitted", async () => {
    const session = new CountingSession(1);
    const running = new AbortController();
    const queued = new AbortController();
    const a = session.generate("a", { maxTokens: 1e6, signal: running.signal });
    const b = session.generate("b", { signal: queued.signal });
    await vi.waitFor(() => expect(session.stepSizes.length).toBeGreaterThan(0));
    queued.abort();
    await expect(b).rejects.toBeInstanceOf(AbortedError);
    running.abort(); // a running row ends "abort" with its tokens so far
    const g = await a;
    expect(g.finishReason).toBe("abort");
    expect(g.tokens.length).toBeGreaterThan(0);
    expect(session.admitted).toEqual(["a"]);
  });

  it("an aborted signal refuses the call before it is queued", async () => {
    const session = new CountingSession(1);
    await expect(session.generate("a", { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortedError);
    expect(session.admitted).toEqual([]);
  });

  it("dispose rejects every running and waiting request with DisposedError and frees the running rows", async () => {
    const session = new CountingSession(2);
    const calls = ["a", "b", "c"].map((p) => session.generate(p, { maxTokens: 1e6 }));
    await vi.waitFor(() => expect(session.stepSizes.length).toBeGreaterThan(0));
    await session.dispose();
    for (const call of calls) await expect(call).rejects.toBeInstanceOf(DisposedError);
    expect(session.admitted).toEqual(["a", "b"]);
    expect(session.left.sort()).toEqual(["a", "b"]);
    await expect(session.generate("d")).rejects.toBeInstanceOf(DisposedError);
  });

  it("dispose during a prompt pass rejects that request too, not only the running and waiting ones", async () => {
    let endPromptPass = () => {};
    const session = new CountingSession(1, new Promise<void>((resolve) => (endPromptPass = resolve)));
    const calls = ["a", "b"].map((p) => session.generate(p));
    await vi.waitFor(() => expect(session.admitted).toEqual(["a"])); // a is in its prompt pass
    const disposed = session.dispose();
    endPromptPass();
    await disposed;
    for (const call of calls) await expect(call).rejects.toBeInstanceOf(DisposedError);
  });
});

describe("resolveParallelSequences", () => {
  it("takes the option or the engine's default and refuses what is not a whole number in range", () => {
    expect(resolveParallelSequences({}, 4)).toBe(4);
    expect(resolveParallelSequences({ parallelSequences: 2 }, 4, 256)).toBe(2);
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => resolveParallelSequences({ parallelSequences: bad }, 4)).toThrow(InvalidArgumentError);
    expect(() => resolveParallelSequences({ parallelSequences: 257 }, 4, 256)).toThrow(/from 1 to 256/);
    expect(() => resolveParallelSequences({ parallelSequences: 0 }, 4)).toThrow(/≥ 1/);
  });
});
