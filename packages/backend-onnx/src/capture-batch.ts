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

/** Requests that share one prefix pass at most. */
const MAX_ROWS = 8;

/**
 * Captures requested together (in the same turn of the event loop, as core's extraction requests
 * a query's neutral and emotional answers) run as one batch: their longest common prefix (the
 * chat prompt they share, never into a span) is evaluated once, and every request's remaining
 * tokens continue from that KV cache, each at the positions it has alone. A request alone in its
 * batch runs exactly as before batching (one pass over its tokens). A capture differs from a
 * one-at-a-time pass only by float rounding (the prefix's keys come from the cache instead of the
 * same pass), which the backend's tests bound.
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
   * One batch: the shared prefix once, then each request's remaining tokens from that KV cache, a
   * run of batch 1 each (written for the format-6 export, whose GroupQueryAttention refused several
   * rows of several tokens after a past; format 7's plain-op attention would take them as one
   * padded batch, which is not built; one row per run wastes nothing on padding).
   */
  private async runBatch(batch: readonly PendingCapture[]): Promise<Float32Array[][]> {
    const { hiddenSize: H } = this.host;
    const prefix = batch.length > 1 ? sharedPrefix(batch) : 0;
    let past: ort.Tensor[] | null = null;
    if (prefix > 0) {
      const head = batch[0]!.tokens.slice(0, prefix);
      const result = await this.host.run(this.feeds(head, 0, null, batch[0]!.steering), this.presentNames());
      this.host.assertAlive();
      past = this.presentNames().map((name) => result[name]!);
    }
    const captures: Float32Array[][] = [];
    for (const request of batch) {
      const rest = request.tokens.slice(prefix);
      const result = await this.host.run(this.feeds(rest, prefix, past, request.steering), request.layers.map(GRAPH_IO.hiddenState));
      this.host.assertAlive();
      captures.push(
        request.layers.map((layer) =>
          (result[GRAPH_IO.hiddenState(layer)]!.data as Float32Array).slice(
            (request.spanStart - prefix) * H,
            (request.tokens.length - prefix) * H,
          ),
        ),
      );
    }
    return captures;
  }

  /** Feeds of a run of `tokens` (batch 1) after `prefix` cached tokens (`past`: their KV per layer; null: none). */
  private feeds(
    tokens: readonly number[],
    prefix: number,
    past: readonly ort.Tensor[] | null,
    steering: Float32Array,
  ): Record<string, ort.Tensor> {
    const { layerCount: L, hiddenSize: H, kvHeads, headDim } = this.host;
    const S = tokens.length;
    const feeds: Record<string, ort.Tensor> = {
      [GRAPH_IO.inputIds]: new ort.Tensor("int64", BigInt64Array.from(tokens, BigInt), [1, S]),
      [GRAPH_IO.attentionMask]: new ort.Tensor("int64", new BigInt64Array(prefix + S).fill(1n), [1, prefix + S]),
      [GRAPH_IO.positionIds]: new ort.Tensor(
        "int64",
        BigInt64Array.from({ length: S }, (_, i) => BigInt(prefix + i)),
        [1, S],
      ),
      [GRAPH_IO.steering]: new ort.Tensor("float32", steering, [1, L, H]),
    };
    for (let i = 0; i < L; i++) {
      const shape = [1, kvHeads, prefix, headDim];
      // The prefix's KV is read by every request of the batch: fed as is (session runs copy their feeds unless told to transfer them).
      feeds[GRAPH_IO.pastKey(i)] = past ? past[2 * i]! : new ort.Tensor("float32", new Float32Array(0), shape);
      feeds[GRAPH_IO.pastValue(i)] = past ? past[2 * i + 1]! : new ort.Tensor("float32", new Float32Array(0), shape);
    }
    return feeds;
  }

  private presentNames(): string[] {
    return Array.from({ length: this.host.layerCount }, (_, i) => [GRAPH_IO.presentKey(i), GRAPH_IO.presentValue(i)]).flat();
  }
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
