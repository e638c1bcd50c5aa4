import { AbortedError } from "@emosteer/core";
import { GRAPH_IO } from "@emosteer/onnx-export";
import * as ort from "onnxruntime-node";

/** One `captureResiduals` call, checked, waiting for its pass. */
export interface PendingCapture {
  /** The tokens the pass needs: the request's tokens up to its span's end. */
  readonly tokens: readonly number[];
  readonly spanStart: number;
  readonly layers: readonly number[];
  /** The steering rows `[L × hidden]` of the pass (the backend's zero table when unsteered). */
  readonly steering: Float32Array;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (data: Float32Array[]) => void;
  readonly reject: (error: unknown) => void;
}

/** What the batcher needs from the backend: the graph's shapes and one session run. */
export interface CaptureHost {
  readonly layerCount: number;
  readonly hiddenSize: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Throws when the backend is disposed. */
  assertAlive(): void;
  /** `transfer`: feeds the run may take over (their buffers are not used again). */
  run(feeds: Record<string, ort.Tensor>, fetches: readonly string[], transfer: readonly string[]): Promise<ort.InferenceSession.ReturnType>;
  /** Counts the work as in flight, so dispose waits for it. */
  track<T>(work: () => Promise<T>): Promise<T>;
}

/** Requests that share one prefix pass at most (and rows of one padded run). */
const MAX_ROWS = 8;

/**
 * Captures requested together (in the same turn of the event loop, as core's extraction requests
 * a query's neutral and emotional answers) run as one batch: their longest common prefix (the
 * chat prompt they share, never into a span) is evaluated once, and the requests' remaining
 * tokens continue from that KV cache as the rows of one padded run, each at the positions it has
 * alone. A request alone in its batch runs exactly as before batching (one pass over its tokens).
 * A capture differs from a one-at-a-time pass only by float rounding (the prefix's keys come from
 * the cache instead of the same pass; other matmul shapes), which the backend's tests bound.
 */
export class CaptureBatcher {
  private pending: PendingCapture[] = [];
  private scheduled = false;

  constructor(private readonly host: CaptureHost) {}

  /** Queues a checked request; it runs with the others queued before the event loop's next turn. */
  add(request: PendingCapture): void {
    this.pending.push(request);
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: callers that await a tokenizer before capturing still land in this batch.
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.pending;
      this.pending = [];
      void this.host.track(() => this.runAll(batch)).catch(() => {}); // each request is settled by runAll
    });
  }

  private async runAll(requests: readonly PendingCapture[]): Promise<void> {
    const live: PendingCapture[] = [];
    for (const request of requests) {
      if (request.signal?.aborted) request.reject(new AbortedError("captureResiduals"));
      else live.push(request);
    }
    for (const batch of batchesOf(live)) {
      try {
        this.host.assertAlive();
        const results = await this.runBatch(batch);
        for (const [i, request] of batch.entries()) request.resolve(results[i]!);
      } catch (err) {
        for (const request of batch) request.reject(err);
      }
    }
  }

  /**
   * One batch: the shared prefix once (batch 1), then every request's remaining tokens as rows of
   * padded runs over that KV cache (see {@link paddedRuns}): the prefix's keys and values repeated
   * per row, each row right-padded to the run's longest, its mask covering the prefix and its own
   * tokens only, so that no real position sees a pad (causal attention: a row's pads come after all
   * its real tokens) and each row computes what it would alone. Without a shared prefix each
   * request runs alone from scratch.
   */
  private async runBatch(batch: readonly PendingCapture[]): Promise<Float32Array[][]> {
    const prefix = batch.length > 1 ? sharedPrefix(batch) : 0;
    if (prefix === 0) {
      const captures: Float32Array[][] = [];
      for (const request of batch) captures.push((await this.runRows([request], 0, null))[0]!);
      return captures;
    }
    const head = batch[0]!.tokens.slice(0, prefix);
    const headFeeds = this.feeds([head], 0, null, batch[0]!.steering);
    const result = await this.host.run(headFeeds, this.presentNames(), handedOver(headFeeds, batch[0]!.steering, null));
    this.host.assertAlive();
    const past = this.presentNames().map((name) => result[name]!);
    const captures: Float32Array[][] = new Array(batch.length);
    for (const run of paddedRuns(batch.map((r) => r.tokens.length - prefix))) {
      const rows = await this.runRows(
        run.map((i) => batch[i]!),
        prefix,
        past,
      );
      run.forEach((i, row) => {
        captures[i] = rows[row]!;
      });
    }
    return captures;
  }

  /** One run of `requests` as rows after `prefix` cached tokens (`past`, batch 1: repeated per row); each row's span, per requested layer. */
  private async runRows(
    requests: readonly PendingCapture[],
    prefix: number,
    past: readonly ort.Tensor[] | null,
  ): Promise<Float32Array[][]> {
    const { hiddenSize: H } = this.host;
    const layers = [...new Set(requests.flatMap((r) => r.layers))];
    const rows = requests.map((r) => r.tokens.slice(prefix));
    const S = Math.max(...rows.map((r) => r.length));
    const feeds = this.feeds(
      rows,
      prefix,
      past,
      requests.map((r) => r.steering),
    );
    const result = await this.host.run(feeds, layers.map(GRAPH_IO.hiddenState), handedOver(feeds, requests[0]!.steering, past));
    this.host.assertAlive();
    return requests.map((request, row) =>
      request.layers.map((layer) =>
        (result[GRAPH_IO.hiddenState(layer)]!.data as Float32Array).slice(
          (row * S + request.spanStart - prefix) * H,
          (row * S + request.tokens.length - prefix) * H,
        ),
      ),
    );
  }

  /**
   * Feeds of a run of `rows` (right-padded to the longest) after `prefix` cached tokens (`past`:
   * their KV per layer for one row, repeated for each; null: none). `steering`: one table per row,
   * or one for all.
   */
  private feeds(
    rows: readonly (readonly number[])[],
    prefix: number,
    past: readonly ort.Tensor[] | null,
    steering: Float32Array | readonly Float32Array[],
  ): Record<string, ort.Tensor> {
    const { layerCount: L, hiddenSize: H, kvHeads, headDim } = this.host;
    const B = rows.length;
    const S = Math.max(...rows.map((r) => r.length));
    const ids = new BigInt64Array(B * S);
    const mask = new BigInt64Array(B * (prefix + S));
    const positions = new BigInt64Array(B * S);
    rows.forEach((tokens, b) => {
      // A pad repeats the row's last token: any id would do, its position is masked as a key and its output dropped.
      for (let i = 0; i < S; i++) {
        ids[b * S + i] = BigInt(tokens[Math.min(i, tokens.length - 1)]!);
        positions[b * S + i] = BigInt(prefix + i);
      }
      mask.fill(1n, b * (prefix + S), b * (prefix + S) + prefix + tokens.length);
    });
    const tables = Array.isArray(steering) ? steering : [steering as Float32Array];
    let steeringData = tables[0]!;
    if (B > 1) {
      steeringData = new Float32Array(B * L * H);
      for (let b = 0; b < B; b++) steeringData.set(tables[Math.min(b, tables.length - 1)]!, b * L * H);
    }
    const feeds: Record<string, ort.Tensor> = {
      [GRAPH_IO.inputIds]: new ort.Tensor("int64", ids, [B, S]),
      [GRAPH_IO.attentionMask]: new ort.Tensor("int64", mask, [B, prefix + S]),
      [GRAPH_IO.positionIds]: new ort.Tensor("int64", positions, [B, S]),
      [GRAPH_IO.steering]: new ort.Tensor("float32", steeringData, [B, L, H]),
    };
    for (let i = 0; i < L; i++) {
      const shape = [B, kvHeads, prefix, headDim];
      // Batch 1: the prefix's KV fed as is (session runs copy feeds they are not told to transfer).
      feeds[GRAPH_IO.pastKey(i)] = past ? repeatRows(past[2 * i]!, B) : new ort.Tensor("float32", new Float32Array(0), shape);
      feeds[GRAPH_IO.pastValue(i)] = past ? repeatRows(past[2 * i + 1]!, B) : new ort.Tensor("float32", new Float32Array(0), shape);
    }
    return feeds;
  }

  private presentNames(): string[] {
    return Array.from({ length: this.host.layerCount }, (_, i) => [GRAPH_IO.presentKey(i), GRAPH_IO.presentValue(i)]).flat();
  }
}

/**
 * The continuations of a batch as padded runs: indices into `lengths`, rows of one run evaluated
 * together. Sorted by length, a row joins the current run while the run's pads stay within a
 * quarter of its real tokens (padding costs the compute of real tokens; a run saves the fixed cost
 * of a session run). The answers of one query, about equally long, make one run.
 */
export function paddedRuns(lengths: readonly number[]): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const runs: number[][] = [];
  let run: number[] = [];
  let real = 0;
  for (const i of order) {
    // Ascending order: the newest row is the run's longest.
    const cells = (run.length + 1) * lengths[i]!;
    if (run.length > 0 && cells - (real + lengths[i]!) > (real + lengths[i]!) / 4) {
      runs.push(run);
      run = [];
      real = 0;
    }
    run.push(i);
    real += lengths[i]!;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** The feeds built for one run only: all but the caller's steering table and the shared prefix KV, when fed as they are. */
function handedOver(feeds: Record<string, ort.Tensor>, steering: Float32Array, past: readonly ort.Tensor[] | null): string[] {
  const kept = new Set<unknown>([steering, ...(past ?? []).map((t) => t.data)]);
  return Object.keys(feeds).filter((name) => !kept.has(feeds[name]!.data));
}

/** `tensor` ([1, ...]) repeated as `rows` rows. */
function repeatRows(tensor: ort.Tensor, rows: number): ort.Tensor {
  if (rows === 1) return tensor;
  const data = tensor.data as Float32Array;
  const out = new Float32Array(data.length * rows);
  for (let r = 0; r < rows; r++) out.set(data, r * data.length);
  return new ort.Tensor("float32", out, [rows, ...tensor.dims.slice(1)]);
}

/**
 * Groups requests into batches: same steering (a shared prefix is computed under one steering),
 * at most {@link MAX_ROWS} requests, in arrival order.
 */
function batchesOf(requests: readonly PendingCapture[]): PendingCapture[][] {
  const batches: PendingCapture[][] = [];
  for (const request of requests) {
    const open = batches.find((b) => b.length < MAX_ROWS && sameSteering(b[0]!.steering, request.steering));
    if (open) open.push(request);
    else batches.push([request]);
  }
  return batches;
}

/** Tokens every request starts with, stopping before any span (its rows must be computed in the batched run) and before any last token. */
function sharedPrefix(batch: readonly PendingCapture[]): number {
  const first = batch[0]!.tokens;
  const limit = Math.min(...batch.map((r) => Math.min(r.spanStart, r.tokens.length - 1)));
  let n = 0;
  while (n < limit && batch.every((r) => r.tokens[n] === first[n])) n++;
  return n;
}

function sameSteering(a: Float32Array, b: Float32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
