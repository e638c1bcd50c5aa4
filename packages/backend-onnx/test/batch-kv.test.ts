import { GRAPH_IO } from "@emosteer/onnx-export";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { BatchKv } from "../src/batch-kv.js";

const LAYERS = 2;
const HEADS = 2;
const DIM = 3;

/** A one-row cache of `n` tokens whose values name (layer tensor, head, token, dim). */
function rowCache(n: number, tag: number): BatchKv {
  const result: Record<string, ort.Tensor> = {};
  for (let t = 0; t < 2 * LAYERS; t++) {
    const data = Float32Array.from({ length: HEADS * n * DIM }, (_, i) => tag * 1000 + t * 100 + i);
    const name = t % 2 === 0 ? GRAPH_IO.presentKey(t >> 1) : GRAPH_IO.presentValue(t >> 1);
    result[name] = new ort.Tensor("float32", data, [1, HEADS, n, DIM]);
  }
  return BatchKv.fromRun(result, LAYERS, BatchKv.empty(1, LAYERS, HEADS, DIM), n);
}

describe("BatchKv: end-aligned per-row KV lengths", () => {
  it("packs rows of different lengths end-aligned, with the mask marking each row's real keys", () => {
    const a = rowCache(2, 1);
    const b = rowCache(4, 2);
    const batch = BatchKv.gather([
      { from: a, row: 0 },
      { from: b, row: 0 },
    ]);
    expect(batch.lengths).toEqual([2, 4]);
    expect(batch.width).toBe(4);
    expect(batch.tensors[0]!.dims).toEqual([2, HEADS, 4, DIM]);
    const data = batch.tensors[3]!.data as Float32Array;
    const src = a.tensors[3]!.data as Float32Array;
    // Row 0, head 1: two padding positions of zeros, then a's two tokens.
    const at = (row: number, head: number, pos: number) => ((row * HEADS + head) * 4 + pos) * DIM;
    expect([...data.subarray(at(0, 1, 0), at(0, 1, 2))]).toEqual(new Array(2 * DIM).fill(0));
    expect([...data.subarray(at(0, 1, 2), at(0, 1, 4))]).toEqual([...src.subarray(1 * 2 * DIM, 2 * 2 * DIM)]);
    expect([...data.subarray(at(1, 0, 0), at(1, 0, 4))]).toEqual([...(b.tensors[3]!.data as Float32Array).subarray(0, 4 * DIM)]);
    expect([...(batch.attentionMask(1).data as BigInt64Array)].map(Number)).toEqual([0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(batch.attentionMask(1).dims).toEqual([2, 5]);
  });

  it("re-packs to the longest remaining row when a row leaves, keeping every row's tokens", () => {
    const a = rowCache(2, 1);
    const b = rowCache(4, 2);
    const both = BatchKv.gather([
      { from: b, row: 0 },
      { from: a, row: 0 },
    ]);
    const left = BatchKv.gather([{ from: both, row: 1 }]);
    expect(left.width).toBe(2);
    for (let t = 0; t < 2 * LAYERS; t++)
      expect([...(left.tensors[t]!.data as Float32Array)]).toEqual([...(a.tensors[t]!.data as Float32Array)]);
    expect([...(left.attentionMask(0).data as BigInt64Array)].map(Number)).toEqual([1, 1]);
  });
});
