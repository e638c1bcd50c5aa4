import { describe, expect, it } from "vitest";
import { PaddedKvCache, type KvTensor } from "../src/engine/index.js";

const TENSORS = 4; // key and value of two layers
const HEADS = 2;
const DIM = 3;

const make = (data: Float32Array, dims: readonly number[]): KvTensor => ({ data, dims: [...dims] });

/** A one-row cache of `n` tokens whose values name (cache tensor, head, token, dim). */
function rowCache(n: number, tag: number): PaddedKvCache<KvTensor> {
  const tensors = Array.from({ length: TENSORS }, (_, t) =>
    make(
      Float32Array.from({ length: HEADS * n * DIM }, (_, i) => tag * 1000 + t * 100 + i),
      [1, HEADS, n, DIM],
    ),
  );
  return PaddedKvCache.empty(1, TENSORS, HEADS, DIM, make).grown(tensors, n);
}

const values = (t: KvTensor) => [...(t.data as Float32Array)];

describe("PaddedKvCache: end-aligned per-row KV lengths", () => {
  it("packs rows of different lengths end-aligned; mask and positions follow each row's own length", () => {
    const a = rowCache(2, 1);
    const b = rowCache(4, 2);
    const batch = PaddedKvCache.gather([
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
    expect([...data.subarray(at(0, 1, 2), at(0, 1, 4))]).toEqual([...src.subarray(2 * DIM, 4 * DIM)]);
    expect([...data.subarray(at(1, 0, 0), at(1, 0, 4))]).toEqual(values(b.tensors[3]!).slice(0, 4 * DIM));
    expect([...batch.attentionMask(1)].map(Number)).toEqual([0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect([...batch.positionIds(1)].map(Number)).toEqual([2, 4]);
    expect([...PaddedKvCache.empty(1, TENSORS, HEADS, DIM, make).positionIds(3)].map(Number)).toEqual([0, 1, 2]);
  });

  it("re-packs to the longest remaining row when a row leaves, keeping every row's tokens", () => {
    const a = rowCache(2, 1);
    const b = rowCache(4, 2);
    const both = PaddedKvCache.gather([
      { from: b, row: 0 },
      { from: a, row: 0 },
    ]);
    const left = PaddedKvCache.gather([{ from: both, row: 1 }]);
    expect(left.width).toBe(2);
    for (let t = 0; t < TENSORS; t++) expect(values(left.tensors[t]!)).toEqual(values(a.tensors[t]!));
    expect([...left.attentionMask(0)].map(Number)).toEqual([1, 1]);
  });

  it("refuses a run's cache with a different tensor count", () => {
    expect(() => rowCache(1, 0).grown([], 1)).toThrow(/cache tensors/);
  });
});
