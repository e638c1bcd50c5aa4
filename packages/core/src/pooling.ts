import type { ResidualCapture } from "./steering-backend.js";

/**
 * How a captured span is reduced to one vector per layer: `"mean"` averages the response tokens
 * (the paper), `"last"` keeps the final response token.
 */
export type Pooling = "mean" | "last";

/** One pooled vector per captured layer, in the order of `capture.layers`. */
export function poolResiduals(capture: ResidualCapture, pooling: Pooling): Float32Array[] {
  const { positions, hiddenSize } = capture;
  if (positions < 1) throw new RangeError("Cannot pool a capture with no positions: the response span is empty.");
  return capture.data.map((rows, index) => {
    if (rows.length !== positions * hiddenSize) {
      throw new RangeError(
        `Capture of layer ${capture.layers[index]} holds ${rows.length} floats, expected ${positions} positions × ${hiddenSize}: the backend returned a malformed capture.`,
      );
    }
    if (pooling === "last") return rows.slice((positions - 1) * hiddenSize, positions * hiddenSize);
    const sum = new Float64Array(hiddenSize);
    for (let p = 0; p < positions; p++) {
      const offset = p * hiddenSize;
      for (let i = 0; i < hiddenSize; i++) sum[i]! += rows[offset + i]!;
    }
    return Float32Array.from(sum, (x) => x / positions);
  });
}

/**
 * Mean L2 norm of the residual stream over the captured positions, one value per captured layer.
 * Steering adds to every position, so the per-token norm (not the pooled vector's) is the scale
 * a steering direction competes with.
 */
export function meanTokenNorms(capture: ResidualCapture): Float32Array {
  const { positions, hiddenSize } = capture;
  return Float32Array.from(capture.data, (rows) => {
    let total = 0;
    for (let p = 0; p < positions; p++) {
      let sq = 0;
      for (let i = p * hiddenSize; i < (p + 1) * hiddenSize; i++) sq += rows[i]! * rows[i]!;
      total += Math.sqrt(sq);
    }
    return positions === 0 ? 0 : total / positions;
  });
}
