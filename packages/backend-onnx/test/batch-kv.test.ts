import { GRAPH_IO } from "@emosteer/onnx-export";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { BatchKv } from "../src/batch-kv.js";

// The layout itself (end-aligned rows, mask, positions, re-packing) is core's PaddedKvCache and is
// tested in core (padded-kv-cache.test.ts). This file checks only what BatchKv adds over it: the
// graph's present/past names and onnxruntime-node tensors.

const LAYERS = 2;
const HEADS = 2;
const DIM = 3;

/** A run's `present.*` outputs for one row of `n` tokens whose values name (layer tensor, token). */
function present(n: number, tag: number): Record<string, ort.Tensor> {
  const result: Record<string, ort.Tensor> = {};
  for (let t = 0; t < 2 * LAYERS; t++) {
    const data = Float32Array.from({ length: HEADS * n * DIM }, (_, i) => tag * 1000 + t * 100 + i);
    const name = t % 2 === 0 ? GRAPH_IO.presentKey(t >> 1) : GRAPH_IO.presentValue(t >> 1);
    result[name] = new ort.Tensor("float32", data, [1, HEADS, n, DIM]);
  }
  return result;
}

describe("BatchKv: core's PaddedKvCache under the graph's names, as onnxruntime-node tensors", () => {
  it("takes a run's present.* in key/value order per layer and feeds them back as past_key_values.*", () => {
    const run = present(2, 1);
    const kv = BatchKv.fromRun(run, LAYERS, BatchKv.empty(1, LAYERS, HEADS, DIM), 2);
    const feeds = kv.feeds();
    expect(Object.keys(feeds)).toEqual(Array.from({ length: LAYERS }, (_, i) => [GRAPH_IO.pastKey(i), GRAPH_IO.pastValue(i)]).flat());
    for (let i = 0; i < LAYERS; i++) {
      expect(feeds[GRAPH_IO.pastKey(i)]!.data).toEqual(run[GRAPH_IO.presentKey(i)]!.data);
      expect(feeds[GRAPH_IO.pastValue(i)]!.data).toEqual(run[GRAPH_IO.presentValue(i)]!.data);
      expect(feeds[GRAPH_IO.pastKey(i)]).toBeInstanceOf(ort.Tensor);
    }
  });

  it("gives the attention mask as an int64 [rows, T + added] tensor and gathers rows into a BatchKv", () => {
    const empty = BatchKv.empty(1, LAYERS, HEADS, DIM);
    const a = BatchKv.fromRun(present(2, 1), LAYERS, empty, 2);
    const b = BatchKv.fromRun(present(4, 2), LAYERS, empty, 4);
    const batch = BatchKv.gather([
      { from: a, row: 0 },
      { from: b, row: 0 },
    ]);
    expect([batch.rows, batch.width, batch.lengths]).toEqual([2, 4, [2, 4]]);
    const mask = batch.attentionMask(1);
    expect(mask.type).toBe("int64");
    expect(mask.dims).toEqual([2, 5]);
    expect([...(mask.data as BigInt64Array)].map(Number)).toEqual([0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
  });
});
