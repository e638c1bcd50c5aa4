import type { ModelInfo, SteeringTensor } from "@emosteer/core";

/**
 * A steering tensor as llama.cpp takes it (llama_set_adapter_cvec and the patch's per-sequence
 * llama_set_adapter_cvec_seq alike): the rows of layers 1..layerCount-1, all of them (llama.cpp
 * keeps stale values for layers missing from a shorter buffer), and the range of layers whose row
 * is non-zero, so every other layer stays bit-exact.
 */
export interface ControlVector {
  readonly rows: Float32Array;
  readonly from: number;
  readonly to: number;
}

/** The control vector of `tensor`, or null when it steers nothing. */
export function controlVectorOf(tensor: SteeringTensor | null, model: ModelInfo): ControlVector | null {
  if (!tensor) return null;
  const { hiddenSize, layerCount } = model;
  const rows = tensor.data.slice(hiddenSize); // drop row 0: llama.cpp's buffer starts at layer 1
  let from = -1;
  let to = -1;
  for (let layer = 1; layer < layerCount; layer++) {
    const row = rows.subarray((layer - 1) * hiddenSize, layer * hiddenSize);
    if (row.some((x) => x !== 0)) {
      if (from === -1) from = layer;
      to = layer;
    }
  }
  return from === -1 ? null : { rows, from, to };
}

export function sameControlVector(a: ControlVector | null, b: ControlVector | null): boolean {
  if (a === b) return true;
  if (!a || !b || a.from !== b.from || a.to !== b.to || a.rows.length !== b.rows.length) return false;
  for (let i = 0; i < a.rows.length; i++) if (a.rows[i] !== b.rows[i]) return false;
  return true;
}
