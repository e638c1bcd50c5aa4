import { describe, expect, it } from "vitest";
import { paddedRuns } from "../src/capture-batch.js";

describe("paddedRuns (the padded runs of a capture batch's continuations)", () => {
  it("keeps about equally long answers in one run, shortest first", () => {
    expect(paddedRuns([52, 62, 59, 58, 62, 63])).toEqual([[0, 3, 2, 1, 4, 5]]);
  });

  it("starts a new run where padding would exceed a quarter of the real tokens", () => {
    // 10, 12 together pad 2 of 22; adding 40 would pad 30 + 28 of 62: a run of its own.
    expect(paddedRuns([40, 10, 12])).toEqual([[1, 2], [0]]);
    expect(paddedRuns([5])).toEqual([[0]]);
  });
});
