import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DisposedError } from "@emosteer/core";
import { ensureModel } from "@emosteer/models";
import { exportGgufToOnnx, GRAPH_IO } from "@emosteer/onnx-export";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { openSessionRunner } from "../src/session-worker.js";
import { writeTinyGraphWithoutSteering } from "./tiny-graph.js";

const dir = mkdtempSync(join(tmpdir(), "emosteer-session-worker-"));
writeTinyGraphWithoutSteering(dir);
const tinyGraph = join(dir, "model.onnx");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const floats = (values: number[]) => new ort.Tensor("float32", Float32Array.from(values), [values.length]);

describe("the ONNX session in a worker thread (tiny Identity graph)", () => {
  it("gives the caller-thread session's outputs; handed-over feeds move, the others stay intact", async () => {
    const worker = await openSessionRunner(tinyGraph, {}, { what: "test session" });
    const caller = await openSessionRunner(tinyGraph, {}, { thread: "caller", what: "test session" });
    try {
      expect(worker.inputNames).toEqual(caller.inputNames);
      expect(worker.outputNames).toEqual(["logits"]);
      const kept = floats([1, 2, 3]);
      const fromWorker = await worker.run({ input_ids: kept }, ["logits"]);
      const fromCaller = await caller.run({ input_ids: floats([1, 2, 3]) }, ["logits"]);
      expect(Array.from(fromWorker.logits!.data as Float32Array)).toEqual(Array.from(fromCaller.logits!.data as Float32Array));
      expect(fromWorker.logits!.dims).toEqual([3]);
      expect(Array.from(kept.data as Float32Array)).toEqual([1, 2, 3]); // copied, still the caller's
      const moved = floats([4, 5]);
      const result = await worker.run({ input_ids: moved }, ["logits"], { transfer: ["input_ids"] });
      expect((moved.data as Float32Array).length).toBe(0); // transferred: detached here
      expect(Array.from(result.logits!.data as Float32Array)).toEqual([4, 5]);
      // A handed-over view on part of a buffer is copied, not transferred: the caller's other views stay.
      const shared = Float32Array.from([1, 2, 3, 4, 5, 6]);
      const part = new ort.Tensor("float32", shared.subarray(2, 4), [2]);
      const fromPart = await worker.run({ input_ids: part }, ["logits"], { transfer: ["input_ids"] });
      expect(Array.from(fromPart.logits!.data as Float32Array)).toEqual([3, 4]);
      expect(Array.from(shared)).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      await worker.release();
      await caller.release();
    }
  });

  it("passes onnxruntime's errors to the caller and keeps serving; after release every run is a DisposedError", async () => {
    const worker = await openSessionRunner(tinyGraph, {}, { what: "test session" });
    await expect(worker.run({ not_an_input: floats([1]) }, ["logits"])).rejects.toThrow(/input/i);
    expect(Array.from((await worker.run({ input_ids: floats([7]) }, ["logits"])).logits!.data as Float32Array)).toEqual([7]);
    await worker.release();
    await expect(worker.run({ input_ids: floats([7]) }, ["logits"])).rejects.toBeInstanceOf(DisposedError);
    await worker.release(); // twice is harmless
  });

  it("refuses a file that is no model with onnxruntime's message", async () => {
    await expect(openSessionRunner(join(dir, "missing.onnx"), {}, { what: "test session" })).rejects.toThrow(/missing\.onnx|load|file/i);
  });
});

describe("the ONNX session in a worker thread (SmolLM2-135M fp32)", () => {
  it("leaves the event loop free during a prompt pass, where the calling-thread session blocks it", async () => {
    const { path } = await ensureModel("smollm2-135m-instruct");
    const { modelDir } = await exportGgufToOnnx({ ggufPath: path, precision: "fp32" });
    const model = join(modelDir, "onnx", "model.onnx");
    const worker = await openSessionRunner(model, {}, { what: "test session" });
    const caller = await openSessionRunner(model, {}, { thread: "caller", what: "test session" });
    try {
      const config = JSON.parse(readFileSync(join(modelDir, "config.json"), "utf8"));
      const { num_hidden_layers: layers, hidden_size: H, num_key_value_heads: kvHeads, head_dim: headDim, vocab_size: V } = config;
      const S = 64;
      const feeds = (): Record<string, ort.Tensor> => {
        const out: Record<string, ort.Tensor> = {
          [GRAPH_IO.inputIds]: new ort.Tensor("int64", new BigInt64Array(S).fill(42n), [1, S]),
          [GRAPH_IO.attentionMask]: new ort.Tensor("int64", new BigInt64Array(S).fill(1n), [1, S]),
          [GRAPH_IO.positionIds]: new ort.Tensor(
            "int64",
            BigInt64Array.from({ length: S }, (_, i) => BigInt(i)),
            [1, S],
          ),
          [GRAPH_IO.steering]: new ort.Tensor("float32", new Float32Array(layers * H), [1, layers, H]),
        };
        for (let i = 0; i < layers; i++)
          for (const name of [GRAPH_IO.pastKey(i), GRAPH_IO.pastValue(i)])
            out[name] = new ort.Tensor("float32", new Float32Array(0), [1, kvHeads, 0, headDim]);
        return out;
      };
      // Counts this thread's event-loop turns (a setImmediate chain) while one prompt pass runs.
      const turnsDuring = async (runner: typeof worker) => {
        let turns = 0;
        let running = true;
        const spin = () => {
          if (!running) return;
          turns++;
          setImmediate(spin);
        };
        setImmediate(spin);
        const input = feeds();
        const result = await runner.run(input, [GRAPH_IO.logits], { transfer: Object.keys(input) });
        running = false;
        expect(result[GRAPH_IO.logits]!.dims).toEqual([1, S, V]);
        return turns;
      };
      await turnsDuring(worker); // warm-up: the first run of a session allocates its arenas
      await turnsDuring(caller);
      const onWorker = await turnsDuring(worker);
      const onCaller = await turnsDuring(caller);
      // The calling-thread run holds the thread for the whole pass: no turn fits in it (at most the
      // one already queued when it resolves). The worker's run leaves this thread idle for the pass
      // (tens of ms even on a fast CPU, far more than a turn's microseconds), so it keeps turning.
      expect(onCaller).toBeLessThanOrEqual(2);
      expect(onWorker).toBeGreaterThan(10 * Math.max(1, onCaller));
    } finally {
      await worker.release();
      await caller.release();
    }
  });
});
