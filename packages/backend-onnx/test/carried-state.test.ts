import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import { afterAll, describe, expect, it } from "vitest";
import { openSessionRunner, type SessionThread } from "../src/session-worker.js";

const { onnx } = onnxProto;

/** total = past + x (the state a run carries to the next), y = total * 1 (what the caller reads). */
function writeAccumulatorGraph(path: string): void {
  const tensor = (name: string) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: "n" }] } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "accumulator",
      node: [
        { opType: "Add", input: ["past", "x"], output: ["total"] },
        { opType: "Identity", input: ["total"], output: ["y"] },
      ],
      input: [tensor("x"), tensor("past")],
      output: [tensor("y"), tensor("total")],
    },
  });
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
}

const dir = mkdtempSync(join(tmpdir(), "emosteer-carried-state-"));
const graph = join(dir, "model.onnx");
writeAccumulatorGraph(graph);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const floats = (values: number[]) => new ort.Tensor("float32", Float32Array.from(values), [values.length]);

describe.each<SessionThread>(["worker", "caller"])("state carried between runs in the session's thread (%s)", (thread) => {
  it("keeps the carried outputs, feeds them to the next run under the same key, and frees them on dropState", async () => {
    const runner = await openSessionRunner(graph, {}, { thread, what: "accumulator session" });
    try {
      const a = { key: "a", carry: { total: "past" } };
      const first = await runner.run({ x: floats([1, 2]), past: floats([0, 0]) }, ["y", "total"], { state: a });
      expect(Object.keys(first)).toEqual(["y"]); // the carried output stays behind
      expect(Array.from(first.y!.data as Float32Array)).toEqual([1, 2]);
      // A second key is a state of its own.
      const b = { key: "b", carry: { total: "past" } };
      await runner.run({ x: floats([100, 100]), past: floats([0, 0]) }, ["y", "total"], { state: b });
      const second = await runner.run({ x: floats([10, 20]) }, ["y", "total"], { state: a });
      expect(Array.from(second.y!.data as Float32Array)).toEqual([11, 22]);
      const third = await runner.run({ x: floats([1, 1]) }, ["y", "total"], { state: b });
      expect(Array.from(third.y!.data as Float32Array)).toEqual([101, 101]);
      await runner.dropState("a");
      // Dropped: the run no longer has its `past` input.
      await expect(runner.run({ x: floats([1, 1]) }, ["y", "total"], { state: a })).rejects.toThrow(/past/);
      // A carried output must be fetched.
      await expect(runner.run({ x: floats([1, 1]) }, ["y"], { state: b })).rejects.toThrow(/carried output "total"/);
    } finally {
      await runner.release();
    }
  });
});
