import { AbortedError } from "@emosteer/core";
import { describe, expect, it } from "vitest";
import { SerialQueue } from "../src/serial-queue.js";

describe("SerialQueue", () => {
  it("runs tasks one at a time in call order", async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`${name} start`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      log.push(`${name} end`);
      return name;
    };
    expect(await Promise.all([queue.run(task("a")), queue.run(task("b"))])).toEqual(["a", "b"]);
    expect(log).toEqual(["a start", "a end", "b start", "b end"]);
  });

  it("rejects a waiting task at once when its signal aborts, and never runs it", async () => {
    const queue = new SerialQueue();
    let release!: () => void;
    let firstDone = false;
    const first = queue.run(() => new Promise<void>((resolve) => (release = resolve))).then(() => (firstDone = true));
    let ran = false;
    const controller = new AbortController();
    const waiting = queue.run(
      async () => {
        ran = true;
      },
      controller.signal,
      "waiting work",
    );
    controller.abort();
    await expect(waiting).rejects.toThrow(AbortedError);
    expect(firstDone).toBe(false);
    release();
    await first;
    expect(await queue.run(async () => "next")).toBe("next");
    expect(ran).toBe(false);
  });

  it("lets a running task finish when its signal aborts (the task decides)", async () => {
    const queue = new SerialQueue();
    const controller = new AbortController();
    const result = queue.run(async () => {
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 1));
      return "finished";
    }, controller.signal);
    expect(await result).toBe("finished");
  });
});
