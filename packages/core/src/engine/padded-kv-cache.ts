/** A float32 tensor as any onnxruntime binding exposes it (onnxruntime-node, onnxruntime-web, transformers.js's wrapper). */
export interface KvTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}

/** Makes an engine's own float32 tensor of `dims` over `data`. */
export type MakeKvTensor<T extends KvTensor> = (data: Float32Array, dims: readonly number[]) => T;

/**
 * The KV cache of a batch of sequences of different lengths, in the layout the exported decoder
 * graph reads: per cache tensor (key, value per layer) `[rows, kvHeads, T, headDim]`, every row
 * end-aligned (left-padded) to the longest row's length T. The per-row lengths reach the graph as
 * the attention mask (0 on a row's padding, 1 on its real keys) and the position ids (a row's next
 * position is its own length), so each row attends to its own tokens only and sees the positions
 * it would see alone. The graph appends the new keys at column T for every row, which keeps rows
 * end-aligned, so the cache is re-packed only when rows join or leave.
 *
 * It lives in core because both ONNX-graph engines (onnxruntime-node, transformers.js) batch the
 * same graph this way and must never import each other; each wraps it with its own tensor type
 * and its graph's input names. It is the one place that knows the layout: a fused-attention graph
 * that wants start-aligned rows (GroupQueryAttention's seqlens_k = per-row length − 1, derivable
 * from the same mask) changes only this packing.
 */
export class PaddedKvCache<T extends KvTensor> {
  private constructor(
    /** The cache tensors, in the graph's order (key, value per layer). */
    readonly tensors: readonly T[],
    /** Real tokens held per row. */
    readonly lengths: readonly number[],
    /** Padded length T shared by the rows. */
    readonly width: number,
    private readonly make: MakeKvTensor<T>,
  ) {}

  /** `rows` empty rows: `tensorCount` tensors of `[rows, kvHeads, 0, headDim]`. */
  static empty<T extends KvTensor>(
    rows: number,
    tensorCount: number,
    kvHeads: number,
    headDim: number,
    make: MakeKvTensor<T>,
  ): PaddedKvCache<T> {
    const tensors = Array.from({ length: tensorCount }, () => make(new Float32Array(0), [rows, kvHeads, 0, headDim]));
    return new PaddedKvCache(tensors, new Array<number>(rows).fill(0), 0, make);
  }

  /** The cache a run returned (its `present.*` tensors, in this cache's order), each row grown by `added` real tokens. */
  grown(tensors: readonly T[], added: number): PaddedKvCache<T> {
    if (tensors.length !== this.tensors.length)
      throw new Error(`internal: a run returned ${tensors.length} cache tensors, the cache has ${this.tensors.length}`);
    return new PaddedKvCache(
      tensors,
      this.lengths.map((n) => n + added),
      this.width + added,
      this.make,
    );
  }

  get rows(): number {
    return this.lengths.length;
  }

  /** The `[rows, T + added]` attention mask (row-major) of a run that appends `added` tokens to every row. */
  attentionMask(added: number): BigInt64Array {
    const T = this.width + added;
    const mask = new BigInt64Array(this.rows * T);
    for (const [row, n] of this.lengths.entries()) mask.fill(1n, row * T + (this.width - n), (row + 1) * T);
    return mask;
  }

  /** Each row's position ids for a run that appends `added` tokens: `[rows, added]`, row b from its own length. */
  positionIds(added: number): BigInt64Array {
    const ids = new BigInt64Array(this.rows * added);
    for (const [row, n] of this.lengths.entries()) for (let i = 0; i < added; i++) ids[row * added + i] = BigInt(n + i);
    return ids;
  }

  /**
   * A new batch made of rows picked from other batches, in order, re-packed end-aligned to the
   * longest picked row (so a batch never keeps padding its longest row no longer needs).
   */
  static gather<T extends KvTensor>(picks: readonly { readonly from: PaddedKvCache<T>; readonly row: number }[]): PaddedKvCache<T> {
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
      return first.make(out, [rows, kvHeads, width, headDim]);
    });
    return new PaddedKvCache(tensors, lengths, width, first.make);
  }
}
