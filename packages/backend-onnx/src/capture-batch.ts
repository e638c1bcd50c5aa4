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
  run(feeds: Record<string, ort.Tensor>, fetches: readonly string[]): Promise<ort.InferenceSession.ReturnType>;
  /** Counts the work as in flight, so dispose waits for it. */
  track<T>(work: () => Promise<T>): Promise<T>;
}

/** Rows of one batched pass at most, and its padded tokens (rows × longest row) at most. */
const MAX_ROWS = 8;
const MAX_PADDED_TOKENS = 4096;

/**
 * Captures requested together (in the same turn of the event loop, as core's extraction requests
 * a query's neutral and emotional answers) run as one batch: their longest common prefix (the
 * chat prompt they share, never into a span) is evaluated once at batch 1, and the rest of every
 * request continues from that KV cache in one padded run, one row per request. Rows are
 * right-padded: the graph's mask is causal, so a real token never sees the padding after it, and
 * the attention mask hides it besides; each row keeps the positions it has alone. A request alone
 * in its batch runs exactly as before batching (one pass over its tokens). Rows differ from a
 * one-at-a-time pass only by float rounding (other matmul shapes), which the backend's tests bound.
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

  /** One batch: the shared prefix once, then every request's remaining tokens as one row each. */
  private async runBatch(batch: readonly PendingCapture[]): Promise<Float32Array[][]> {
    const { hiddenSize: H } = this.host;
    const layers = [...new Set(batch.flatMap((r) => r.layers))].sort((a, b) => a - b);
    const fetches = layers.map(GRAPH_IO.hiddenState);
    const prefix = batch.length > 1 ? sharedPrefix(batch) : 0;
    let past: ort.Tensor[] | null = null;
    if (prefix > 0) {
      const head = batch[0]!.tokens.slice(0, prefix);
      const result = await this.host.run(this.feeds([head], 0, null, batch[0]!.steering, 1), this.presentNames());
      this.host.assertAlive();
      past = this.presentNames().map((name) => result[name]!);
    }
    const rows = batch.map((r) => r.tokens.slice(prefix));
    const result = await this.host.run(this.feeds(rows, prefix, past, null, batch.length, batch), fetches);
    this.host.assertAlive();
    const width = Math.max(...rows.map((r) => r.length));
    return batch.map((request, b) =>
      request.layers.map((layer) => {
        const all = result[GRAPH_IO.hiddenState(layer)]!.data as Float32Array;
        const start = b * width + (request.spanStart - prefix);
        const end = b * width + (request.tokens.length - prefix);
        return all.slice(start * H, end * H);
      }),
    );
  }

  /**
   * Feeds of a run of `rows` (right-padded to the longest) after `prefix` shared cached tokens
   * (`past`: one row of KV per layer, repeated for every row; null: no cache). Steering: `steering`
   * for every row, or each request's own.
   */
  private feeds(
    rows: readonly (readonly number[])[],
    prefix: number,
    past: readonly ort.Tensor[] | null,
    steering: Float32Array | null,
    count: number,
    requests?: readonly PendingCapture[],
  ): Record<string, ort.Tensor> {
    const { layerCount: L, hiddenSize: H, kvHeads, headDim } = this.host;
    const width = Math.max(...rows.map((r) => r.length));
    const ids = new BigInt64Array(count * width);
    const mask = new BigInt64Array(count * (prefix + width));
    const positions = new BigInt64Array(count * width);
    const steeringRows = new Float32Array(count * L * H);
    rows.forEach((row, b) => {
      row.forEach((token, i) => {
        ids[b * width + i] = BigInt(token);
      });
      mask.fill(1n, b * (prefix + width), b * (prefix + width) + prefix + row.length);
      for (let i = 0; i < width; i++) positions[b * width + i] = BigInt(prefix + i);
      steeringRows.set(steering ?? requests![b]!.steering, b * L * H);
    });
    const feeds: Record<string, ort.Tensor> = {
      [GRAPH_IO.inputIds]: new ort.Tensor("int64", ids, [count, width]),
      [GRAPH_IO.attentionMask]: new ort.Tensor("int64", mask, [count, prefix + width]),
      [GRAPH_IO.positionIds]: new ort.Tensor("int64", positions, [count, width]),
      [GRAPH_IO.steering]: new ort.Tensor("float32", steeringRows, [count, L, H]),
    };
    for (let i = 0; i < L; i++) {
      for (const [t, name] of [
        [2 * i, GRAPH_IO.pastKey(i)],
        [2 * i + 1, GRAPH_IO.pastValue(i)],
      ] as const) {
        const shape = [count, kvHeads, prefix, headDim];
        if (!past) {
          feeds[name] = new ort.Tensor("float32", new Float32Array(0), shape);
          continue;
        }
        const one = past[t]!.data as Float32Array;
        const tiled = new Float32Array(count * one.length);
        for (let b = 0; b < count; b++) tiled.set(one, b * one.length);
        feeds[name] = new ort.Tensor("float32", tiled, shape);
      }
    }
    return feeds;
  }

  private presentNames(): string[] {
    return Array.from({ length: this.host.layerCount }, (_, i) => [GRAPH_IO.presentKey(i), GRAPH_IO.presentValue(i)]).flat();
  }
}

/**
 * Groups requests into batches: same steering (a shared prefix is computed under one steering),
 * at most {@link MAX_ROWS} rows and {@link MAX_PADDED_TOKENS} padded tokens, in arrival order.
 */
function batchesOf(requests: readonly PendingCapture[]): PendingCapture[][] {
  const batches: PendingCapture[][] = [];
  for (const request of requests) {
    const open = batches.find(
      (b) =>
        b.length < MAX_ROWS &&
        sameSteering(b[0]!.steering, request.steering) &&
        (b.length + 1) * Math.max(request.tokens.length, ...b.map((r) => r.tokens.length)) <= MAX_PADDED_TOKENS,
    );
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
