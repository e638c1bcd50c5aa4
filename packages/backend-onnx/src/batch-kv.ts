import { PaddedKvCache } from "@emosteer/core/engine";
import { GRAPH_IO } from "@emosteer/onnx-export";
import * as ort from "onnxruntime-node";

const float32 = (data: Float32Array, dims: readonly number[]) => new ort.Tensor("float32", data, dims);

/**
 * The batch's KV cache as onnxruntime-node tensors under the exported graph's names. The layout
 * (end-aligned rows, per-row lengths as attention mask and position ids, re-packing when rows join
 * or leave) is core's {@link PaddedKvCache}, shared with the transformers.js engine, which batches
 * the same graph; this class only adds onnxruntime-node's tensors and the graph's input names.
 */
export class BatchKv {
  private constructor(private readonly cache: PaddedKvCache<ort.Tensor>) {}

  static empty(rows: number, layers: number, kvHeads: number, headDim: number): BatchKv {
    return new BatchKv(PaddedKvCache.empty(rows, 2 * layers, kvHeads, headDim, float32));
  }

  /** The cache a run returned (`present.*`), each row grown by `added` real tokens. */
  static fromRun(result: ort.InferenceSession.ReturnType, layers: number, before: BatchKv, added: number): BatchKv {
    const tensors: ort.Tensor[] = [];
    for (let i = 0; i < layers; i++) tensors.push(result[GRAPH_IO.presentKey(i)]!, result[GRAPH_IO.presentValue(i)]!);
    return new BatchKv(before.cache.grown(tensors, added));
  }

  /** `2 × layers` tensors, in GRAPH_IO order (key, value per layer). */
  get tensors(): readonly ort.Tensor[] {
    return this.cache.tensors;
  }

  /** Real tokens held per row. */
  get lengths(): readonly number[] {
    return this.cache.lengths;
  }

  /** Padded length T shared by the rows. */
  get width(): number {
    return this.cache.width;
  }

  get rows(): number {
    return this.cache.rows;
  }

  /** The graph's `past_key_values.*` feeds. */
  feeds(): Record<string, ort.Tensor> {
    const out: Record<string, ort.Tensor> = {};
    const { tensors } = this.cache;
    for (let i = 0; i < tensors.length / 2; i++) {
      out[GRAPH_IO.pastKey(i)] = tensors[2 * i]!;
      out[GRAPH_IO.pastValue(i)] = tensors[2 * i + 1]!;
    }
    return out;
  }

  /** `[rows, T + added]` attention mask for a run that appends `added` tokens to every row. */
  attentionMask(added: number): ort.Tensor {
    return new ort.Tensor("int64", this.cache.attentionMask(added), [this.rows, this.width + added]);
  }

  /** A new batch made of rows picked from other batches, in order, re-packed end-aligned to the longest picked row. */
  static gather(picks: readonly { readonly from: BatchKv; readonly row: number }[]): BatchKv {
    return new BatchKv(PaddedKvCache.gather(picks.map((p) => ({ from: p.from.cache, row: p.row }))));
  }
}
