// The scheduler alone (no model): slots, the bounded queue, and the deterministic-schedule groups.
import { describe, expect, it } from "vitest";
import { Scheduler } from "../src/scheduler.js";

/** A job that records when it started and finishes when told. */
function gate(log: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((r) => {
    finish = r;
  });
  const job = async () => {
    log.push(name);
    await done;
    return name;
  };
  return { job, finish };
}

describe("Scheduler", () => {
  it("fills its slots as they free, queues the rest in order, and refuses one past the queue with a 429", async () => {
    const s = new Scheduler({ slots: 2, maxQueue: 1 });
    const log: string[] = [];
    const [a, b, c] = ["a", "b", "c"].map((n) => gate(log, n));
    const signal = new AbortController().signal;
    const runs = [s.run(a!.job, signal), s.run(b!.job, signal), s.run(c!.job, signal)];
    expect(log).toEqual(["a", "b"]);
    expect(s.queued).toBe(1);
    expect(() => s.run(async () => "d", signal)).toThrow(expect.objectContaining({ status: 429 }));
    a!.finish();
    await runs[0];
    expect(log).toEqual(["a", "b", "c"]);
    b!.finish();
    c!.finish();
    expect(await Promise.all(runs)).toEqual(["a", "b", "c"]);
  });

  it("startTogether: holds jobs until a group is queued, then starts it in arrival order in one turn; drain starts a partial group", async () => {
    const s = new Scheduler({ slots: 3, maxQueue: 4, startTogether: 3 });
    const log: string[] = [];
    const jobs = ["a", "b", "c", "d"].map((n) => gate(log, n));
    const signal = new AbortController().signal;
    const runs = jobs.slice(0, 2).map((j) => s.run(j.job, signal));
    expect(log).toEqual([]);
    expect(s.queued).toBe(2);
    runs.push(s.run(jobs[2]!.job, signal));
    expect(log).toEqual(["a", "b", "c"]); // synchronously, in the turn the group filled
    runs.push(s.run(jobs[3]!.job, signal));
    for (const j of jobs.slice(0, 3)) j.finish();
    await Promise.all(runs.slice(0, 3));
    expect(log).toEqual(["a", "b", "c"]); // d waits for a group of its own
    const drained = s.drain();
    expect(log).toEqual(["a", "b", "c", "d"]);
    jobs[3]!.finish();
    await drained;
    expect(await Promise.all(runs)).toEqual(["a", "b", "c", "d"]);
  });

  it("refuses a group larger than its slots", () => {
    expect(() => new Scheduler({ slots: 2, maxQueue: 8, startTogether: 3 })).toThrow(/startTogether must be/);
  });
});
