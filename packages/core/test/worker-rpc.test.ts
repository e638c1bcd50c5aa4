import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { threadId } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { DisposedError, EmosteerError } from "../src/errors.js";
import { WorkerCallError, WorkerRpc, wireView, workerExecArgv } from "../src/node/worker-rpc.js";

const FIXTURE = new URL("./fixtures/echo-worker.js", import.meta.url);
const open = (greeting = "hi") =>
  WorkerRpc.open<{ greeting: string; threadId: number }>(FIXTURE, {
    what: "the echo worker",
    data: { greeting },
    whenGone: "open it again",
  });

const opened: WorkerRpc[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((rpc) => rpc.dispose()));
});
const track = <T extends WorkerRpc>(rpc: T): T => {
  opened.push(rpc);
  return rpc;
};

describe("WorkerRpc (a real worker thread on test/fixtures/echo-worker.js)", () => {
  it("opens the handler module in another thread and answers calls by id, in any number", async () => {
    const rpc = track(await open());
    expect(rpc.info.greeting).toBe("hi");
    expect(rpc.info.threadId).not.toBe(threadId);
    const replies = await Promise.all([1, 2, 3].map((x) => rpc.call<{ values: Float32Array }>("double", { values: Float32Array.of(x) })));
    expect(replies.map((r) => Array.from(r.values))).toEqual([[2], [4], [6]]);
  });

  it("transfers a handed-over view without a copy, copies a partial view out (its buffer's other views stay), clones the rest", async () => {
    const rpc = track(await open());
    const kept = Float32Array.of(1, 2, 3);
    expect(Array.from((await rpc.call<{ values: Float32Array }>("double", { values: wireView(kept) })).values)).toEqual([2, 4, 6]);
    expect(Array.from(kept)).toEqual([1, 2, 3]); // not handed over: cloned, still the caller's

    const moved = Float32Array.of(4, 5);
    const transfer = new Set<ArrayBuffer>();
    const reply = await rpc.call<{ values: Float32Array; received: number }>("double", { values: wireView(moved, transfer) }, transfer);
    expect(moved.length).toBe(0); // transferred: detached here
    expect(reply.received).toBe(2);

    const shared = Float32Array.of(1, 2, 3, 4, 5, 6);
    const partTransfer = new Set<ArrayBuffer>();
    const part = wireView(shared.subarray(2, 4), partTransfer);
    expect(part.buffer).not.toBe(shared.buffer);
    expect(part.buffer.byteLength).toBe(8); // the part alone, not the 24-byte buffer
    expect(Array.from((await rpc.call<{ values: Float32Array }>("double", { values: part }, partTransfer)).values)).toEqual([6, 8]);
    expect(Array.from(shared)).toEqual([1, 2, 3, 4, 5, 6]);

    // The thread's handOver does the same for a reply on part of its buffer.
    const fromPart = await rpc.call<Float32Array>("part", null);
    expect(Array.from(fromPart)).toEqual([3, 4]);
    expect(fromPart.buffer.byteLength).toBe(8);
  });

  it("carries a handler's error back with its name and message, and keeps serving", async () => {
    const rpc = track(await open());
    const error = await rpc.call("fail", null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerCallError);
    expect(error).toMatchObject({ remoteName: "TypeError" });
    expect((error as Error).message).toBe("the echo worker: the fixture failed on purpose");
    expect((error as Error).stack).toContain("--- in the worker thread ---");
    await expect(rpc.call("no-such-method", null)).rejects.toThrow(/no method "no-such-method"/);
    expect(Array.from((await rpc.call<{ values: Float32Array }>("double", { values: Float32Array.of(7) })).values)).toEqual([14]);
  });

  it("rejects open with the module's own error when its open(data) throws", async () => {
    const error = await open("refuse").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerCallError);
    expect(error).toMatchObject({ remoteName: "RangeError" });
    expect((error as Error).message).toMatch(/^the echo worker: cannot open: the fixture refuses to open/);
    const named = await WorkerRpc.open(FIXTURE, { what: "the echo worker", data: { greeting: "refuse" }, loads: "/models/x" }).catch(
      (e: unknown) => e,
    );
    expect((named as Error).message).toMatch(/^the echo worker: cannot load \/models\/x: the fixture refuses to open/);
  });

  it("a worker that exits rejects its pending call and every later one with an error naming it and what to do", async () => {
    const rpc = track(await open());
    const error = await rpc.call("crash", null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmosteerError);
    expect((error as Error).message).toBe("the echo worker: its worker thread exited (code 3); open it again.");
    await expect(rpc.call("double", { values: Float32Array.of(1) })).rejects.toBe(error);
    await rpc.dispose(); // harmless on a dead thread
  });

  it("dispose rejects the pending calls with DisposedError at once, then every later call; twice is harmless", async () => {
    const rpc = await open();
    const busy = rpc.call("busy", { ms: 300 });
    const queued = rpc.call("double", { values: Float32Array.of(1) });
    const disposed = rpc.dispose();
    expect(rpc.disposed).toBe(true);
    await expect(busy).rejects.toBeInstanceOf(DisposedError);
    await expect(queued).rejects.toBeInstanceOf(DisposedError);
    await disposed;
    await expect(rpc.call("double", { values: Float32Array.of(1) })).rejects.toBeInstanceOf(DisposedError);
    await rpc.dispose();
  });

  it("leaves the caller's event loop free while the worker computes: the caller takes turns during a blocking call", async () => {
    const rpc = track(await open());
    let turns = 0;
    let running = true;
    const spin = () => {
      if (!running) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    // The handler blocks its own thread for 200 ms; were it run on this thread, no turn could come in between.
    const worker = await rpc.call<number>("busy", { ms: 200 });
    running = false;
    expect(worker).not.toBe(threadId);
    expect(turns).toBeGreaterThan(1);
  });

  it("drops --input-type from the flags a worker inherits (node --input-type=module -e would stop it at start)", async () => {
    expect(workerExecArgv(["--input-type=module", "--conditions=x", "--input-type", "--enable-source-maps"])).toEqual([
      "--conditions=x",
      "--enable-source-maps",
    ]);
    // The real case: a worker opened from `node --input-type=module -e '…'`.
    const source = fileURLToPath(new URL("../src/node/worker-rpc.ts", import.meta.url));
    const script = `import { WorkerRpc } from ${JSON.stringify(source)};
const rpc = await WorkerRpc.open(new URL(${JSON.stringify(FIXTURE.href)}), { what: "child", data: { greeting: "child" } });
console.log(JSON.stringify(await rpc.call("execArgv", null)));
await rpc.dispose();`;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    const argv = JSON.parse(out.trim().split("\n").at(-1)!) as string[];
    expect(argv.some((a) => a.startsWith("--input-type"))).toBe(false);
  });
});
