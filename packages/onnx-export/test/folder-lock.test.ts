import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { withFolderLock } from "../src/folder-lock.js";

const work = mkdtempSync(join(tmpdir(), "emosteer-folder-lock-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("withFolderLock", () => {
  it("runs tasks on the same folder one at a time, and releases the lock after each", async () => {
    const folder = join(work, "a");
    const events: string[] = [];
    const task = (name: string) => async () => {
      events.push(`${name} start`);
      await new Promise((r) => setTimeout(r, 150));
      events.push(`${name} end`);
      return name;
    };
    const waits: number[] = [];
    const onWait = (o: { pid: number }) => waits.push(o.pid);
    const results = await Promise.all([
      withFolderLock(folder, task("first"), { onWait }),
      withFolderLock(folder, task("second"), { onWait }),
    ]);
    expect(results).toEqual(["first", "second"]);
    // Which of the two takes the lock first is the scheduler's choice (under load the second may win);
    // what the lock guarantees is that they never overlap, and that the other one waited on this process.
    const [a, b] = events[0] === "first start" ? ["first", "second"] : ["second", "first"];
    expect(events).toEqual([`${a} start`, `${a} end`, `${b} start`, `${b} end`]);
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(new Set(waits)).toEqual(new Set([process.pid]));
    expect(existsSync(`${folder}.lock`)).toBe(false);
  });

  it("releases the lock when the task throws", async () => {
    const folder = join(work, "b");
    await expect(
      withFolderLock(folder, async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(existsSync(`${folder}.lock`)).toBe(false);
  });

  it("takes over a lock whose holder on this host has exited", async () => {
    const folder = join(work, "c");
    const dead = spawnSync(process.execPath, ["-e", "process.exit(0)"]).pid!;
    mkdirSync(`${folder}.lock`);
    writeFileSync(join(`${folder}.lock`, "owner.json"), JSON.stringify({ pid: dead, host: hostname() }));
    expect(await withFolderLock(folder, async () => "taken over")).toBe("taken over");
  });
});
