import * as ort from "onnxruntime-node";
import { GRAPH_IO } from "@emosteer/onnx-export";

/**
 * The KV cache of a batch of sequences of different lengths, in the layout the exported graph
 * reads: per layer `[rows, kvHeads, T, headDim]`, every row end-aligned (left-padded) to the
 * longest row's length T. The per-row lengths travel to the graph as the attention mask (0 on a
 * row's padding, 1 on its real keys) and the position ids (a row's next position is its own
 * length), so each row attends to its own tokens only and sees the positions it would see alone.
 * The graph appends the new keys at column T for every row, which keeps rows end-aligned, so the
 * cache is re-packed only when rows join or leave. This class is the one place that knows the
 * layout: a fused-attention graph that wants start-aligned rows (GroupQueryAttention's seqlens_k
 * = per-row length − 1, derivable from the same attention mask) changes only this packing.
 */
export class BatchKv {
  private constructor(
    /** `2 × layers` tensors, in GRAPH_IO order (key, value per layer). */
    readonly tensors: readonly ort.Tensor[],
    /** Real tokens held per row. */
    readonly lengths: readonly number[],
    /** Padded length T shared by the rows. */
    readonly width: number,
  ) {}

  static empty(rows: number, layers: number, kvHeads: number, headDim: number): BatchKv {
    const tensors = Array.from({ length: 2 * layers }, () => new ort.Tensor("float32", new Float32Array(0), [rows, kvHeads, 0, headDim]));
    return new BatchKv(tensors, new Array<number>(rows).fill(0), 0);
  }

  /** The cache a run returned (`present.*`), each row grown by `added` real tokens. */
  static fromRun(result: ort.InferenceSession.ReturnType, layers: number, before: BatchKv, added: number): BatchKv {
    const tensors: ort.Tensor[] = [];
    for (let i = 0; i < layers; i++) tensors.push(result[GRAPH_IO.presentKey(i)]!, result[GRAPH_IO.presentValue(i)]!);
    return new BatchKv(
      tensors,
      before.lengths.map((n) => n + added),
      before.width + added,
    );
  }

  get rows(): number {
    return this.lengths.length;
  }

  /** The graph's `past_key_values.*` feeds. */
  feeds(): Record<string, ort.Tensor> {
    const out: Record<string, ort.Tensor> = {};
    for (let i = 0; i < this.tensors.length / 2; i++) {
      out[GRAPH_IO.pastKey(i)] = this.tensors[2 * i]!;
      out[GRAPH_IO.pastValue(i)] = this.tensors[2 * i + 1]!;
    }
    return out;
  }

  /** `[rows, T + added]` attention mask for a run that appends `added` tokens to every row. */
  attentionMask(added: number): ort.Tensor {
    const T = this.width + added;
    const mask = new BigInt64Array(this.rows * T);
    for (const [row, n] of this.lengths.entries()) mask.fill(1n, row * T + (this.width - n), (row + 1) * T);
    return new ort.Tensor("int64", mask, [this.rows, T]);
  }

  /**
   * A new batch made of rows picked from other batches, in order, re-packed end-aligned to the
   * longest picked row (so a batch never keeps padding its longest row no longer needs).
   */
  static gather(picks: readonly { readonly from: BatchKv; readonly row: number }[]): BatchKv {
    const first = picks[0]!.from;
    const dims = first.tensors[0]!.dims;
    const [kvHeads, headDim] = [dims[1]!, dims[3]!];
    const lengths = picks.map((p) => p.from.lengths[p.row]!);
    const width = Math.max(0, ...lengths);
    const rows = picks.length;
    const tensors = first.tensors.map((_, t) => {
      const out = new Float32Array(rows * kvHeads * width * headDim);
      picks.forEach(({ from, row }, b) => {
        const src = from.tensors[t]!.data as Float32Array;
        const n = from.lengths[row]!;
        for (let h = 0; h < kvHeads; h++) {
          const s = ((row * kvHeads + h) * from.width + (from.width - n)) * headDim;
          const d = ((b * kvHeads + h) * width + (width - n)) * headDim;
          out.set(src.subarray(s, s + n * headDim), d);
        }
      });
      return new ort.Tensor("float32", out, [rows, kvHeads, width, headDim]);
    });
    return new BatchKv(tensors, lengths, width);
  }
}
