import {
  AbortedError,
  DisposedError,
  InvalidArgumentError,
  TokenSampler,
  type ChatMessage,
  type GenerateOptions,
  type Generation,
  type GenerationSession as CoreGenerationSession,
  type GenerationSessionOptions,
  type GenerationSessionStats,
  type ModelInfo,
} from "@emosteer/core";
import { GenerationText, resolveGenerateOptions, yieldToEventLoop } from "@emosteer/core/engine";
import { GRAPH_IO } from "@emosteer/onnx-export";
import * as ort from "onnxruntime-node";
import { BatchKv } from "./batch-kv.js";

/**
 * Generations that share the backend's loaded model and run together (core's
 * `GenerationSession`): up to `parallelSequences` requests decode in one session run per step,
 * each with its own steering (a `[batch, layers, hidden]` table, row b for sequence b) and its own
 * KV length.
 */
export type OnnxGenerationSession = CoreGenerationSession;

/** What the backend lends a session (its loaded model, tokenizer and steering resolution). */
export interface SessionHost {
  readonly model: ModelInfo;
  readonly contextSize: number;
  readonly vocabSize: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly endOfGeneration: ReadonlySet<number>;
  readonly disposed: boolean;
  promptTokens(prompt: string | readonly ChatMessage[]): number[];
  /** `{ prompt, generation }` steering tables (`layers × hidden` each) of a call's spec and phase. */
  phasedSteering(options: GenerateOptions): { readonly prompt: Float32Array; readonly generation: Float32Array };
  decode(tokens: readonly number[]): string;
  run(feeds: Record<string, ort.Tensor>, fetches: readonly string[]): Promise<ort.InferenceSession.ReturnType>;
  /** Counts `work` as in flight, so the backend's dispose waits for it. */
  track<T>(work: () => Promise<T>): Promise<T>;
}

interface Request {
  readonly promptTokens: readonly number[];
  readonly steering: { readonly prompt: Float32Array; readonly generation: Float32Array };
  readonly sampler: TokenSampler;
  readonly maxTokens: number;
  readonly options: GenerateOptions;
  readonly text: GenerationText;
  readonly called: number;
  readonly resolve: (g: Generation) => void;
  readonly reject: (e: unknown) => void;
}

interface Row extends Request {
  readonly generated: number[];
  promptMs: number;
  firstTokenMs: number;
  decodeStart: number;
  /** The cache holding this row, and its row there. */
  kv: BatchKv;
  kvRow: number;
}

const WHAT = "ONNX session generation";

export function createGenerationSession(host: SessionHost, options: GenerationSessionOptions = {}): OnnxGenerationSession {
  const parallel = options.parallelSequences ?? 4;
  if (!(Number.isSafeInteger(parallel) && parallel >= 1))
    throw new InvalidArgumentError("parallelSequences", parallel, "a whole number ≥ 1");
  return new GenerationSession(host, parallel);
}

class GenerationSession implements OnnxGenerationSession {
  private readonly pending: Request[] = [];
  private active: Row[] = [];
  /** The batch cache of `active`, in its order; null when rows joined or left since the last run. */
  private batch: BatchKv | null = null;
  private loop: Promise<void> | null = null;
  private isDisposed = false;
  private counts = { decodeRuns: 0, sharedRuns: 0, maxSequencesInOneRun: 0, promptRuns: 0 };

  constructor(
    private readonly host: SessionHost,
    readonly parallelSequences: number,
  ) {}

  get stats(): GenerationSessionStats {
    return { ...this.counts };
  }

  // async: a refused call rejects (never throws), as on the backend.
  async generate(prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): Promise<Generation> {
    this.assertAlive();
    const called = performance.now();
    const resolved = resolveGenerateOptions(options);
    const promptTokens = this.host.promptTokens(prompt);
    const steering = this.host.phasedSteering(options);
    if (options.signal?.aborted) throw new AbortedError(WHAT);
    return new Promise<Generation>((resolve, reject) => {
      const { signal } = options;
      // A queued request leaves the queue the moment its signal aborts (it never prefills).
      const onAbort = () => {
        const at = this.pending.indexOf(request);
        if (at === -1) return;
        this.pending.splice(at, 1);
        reject(new AbortedError(WHAT));
      };
      const settle = () => signal?.removeEventListener("abort", onAbort);
      const request: Request = {
        promptTokens,
        steering,
        sampler: new TokenSampler(resolved),
        maxTokens: resolved.maxTokens,
        options,
        text: new GenerationText(resolved.stop),
        called,
        resolve: (g) => {
          settle();
          resolve(g);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.push(request);
      this.loop ??= this.host.track(() => this.run());
    });
  }

  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    this.isDisposed = true;
    await this.loop;
  }

  private assertAlive(): void {
    if (this.isDisposed) throw new DisposedError("ONNX generation session");
    if (this.host.disposed) throw new DisposedError(`ONNX backend for ${this.host.model.name}`);
  }

  /** The scheduler: admit at step boundaries, one batched decode run per step, until no work is left. */
  private async run(): Promise<void> {
    // `loop` is cleared in the same turn as the last check for work (no await between them), so a
    // request queued after that check starts a new loop instead of waiting for a finished one.
    for (;;) {
      if (this.pending.length === 0 && this.active.length === 0) {
        this.loop = null;
        return;
      }
      // Timers first: an abort due before a prompt pass must keep it from starting.
      await yieldToEventLoop({ timers: this.pending.length > 0 });
      try {
        this.assertAlive();
        for (const row of this.active) if (row.options.signal?.aborted) this.finish(row, "abort");
        this.dropFinished();
        while (this.active.length < this.parallelSequences && this.pending.length > 0) await this.admit(this.pending.shift()!);
        if (this.active.length > 0) await this.step();
      } catch (error) {
        for (const r of [...this.active, ...this.pending.splice(0)]) r.reject(error);
        this.active = [];
        this.batch = null;
      }
    }
  }

  /** A request's prompt pass (batch 1, its prompt-phase steering) and first token; it joins the batch unless already done. */
  private async admit(request: Request): Promise<void> {
    if (request.options.signal?.aborted) return request.reject(new AbortedError(WHAT));
    const { layerCount: L, hiddenSize: H } = this.host.model;
    const P = request.promptTokens.length;
    const empty = BatchKv.empty(1, L, this.host.kvHeads, this.host.headDim);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.host.run(
        {
          [GRAPH_IO.inputIds]: new ort.Tensor("int64", BigInt64Array.from(request.promptTokens, BigInt), [1, P]),
          [GRAPH_IO.attentionMask]: empty.attentionMask(P),
          [GRAPH_IO.positionIds]: new ort.Tensor(
            "int64",
            BigInt64Array.from({ length: P }, (_, i) => BigInt(i)),
            [1, P],
          ),
          [GRAPH_IO.steering]: new ort.Tensor("float32", request.steering.prompt, [1, L, H]),
          ...empty.feeds(),
        },
        this.fetches(),
      );
    } catch (error) {
      return request.reject(error);
    }
    this.counts.promptRuns++;
    const row: Row = {
      ...request,
      generated: [],
      promptMs: performance.now() - request.called,
      firstTokenMs: 0,
      decodeStart: performance.now(),
      kv: BatchKv.fromRun(result, L, empty, P),
      kvRow: 0,
    };
    // onnxruntime runs the prompt pass without looking at the signal: an abort during it rejects now, before any token.
    await yieldToEventLoop({ timers: true });
    this.assertAlive();
    if (request.options.signal?.aborted) return request.reject(new AbortedError(WHAT));
    const V = this.host.vocabSize;
    if (this.accept(row, (result[GRAPH_IO.logits]!.data as Float32Array).subarray((P - 1) * V, P * V))) {
      this.active.push(row);
      this.batch = null;
    }
  }

  /** One decode run over every active row: each row's last token, its own KV length and steering. */
  private async step(): Promise<void> {
    const rows = this.active;
    const { layerCount: L, hiddenSize: H } = this.host.model;
    this.batch ??= BatchKv.gather(rows.map((r) => ({ from: r.kv, row: r.kvRow })));
    const batch = this.batch;
    const B = rows.length;
    const steering = new Float32Array(B * L * H);
    for (const [b, r] of rows.entries()) steering.set(r.steering.generation, b * L * H);
    const feeds: Record<string, ort.Tensor> = {
      [GRAPH_IO.inputIds]: new ort.Tensor(
        "int64",
        BigInt64Array.from(rows, (r) => BigInt(r.generated.at(-1)!)),
        [B, 1],
      ),
      [GRAPH_IO.attentionMask]: batch.attentionMask(1),
      [GRAPH_IO.positionIds]: new ort.Tensor("int64", BigInt64Array.from(batch.lengths, BigInt), [B, 1]),
      [GRAPH_IO.steering]: new ort.Tensor("float32", steering, [B, L, H]),
      ...batch.feeds(),
    };
    // The batched path's promise: every active sequence is in this one run.
    if (feeds[GRAPH_IO.inputIds]!.dims[0] !== B || batch.rows !== B)
      throw new Error(`internal: a decode run carried ${batch.rows} of ${B} active sequences`);
    const result = await this.host.run(feeds, this.fetches());
    this.counts.decodeRuns++;
    if (B >= 2) this.counts.sharedRuns++;
    this.counts.maxSequencesInOneRun = Math.max(this.counts.maxSequencesInOneRun, B);
    this.assertAlive();
    const next = BatchKv.fromRun(result, L, batch, 1);
    this.batch = next;
    const logits = result[GRAPH_IO.logits]!.data as Float32Array;
    const V = this.host.vocabSize;
    rows.forEach((row, b) => {
      row.kv = next;
      row.kvRow = b;
      if (!this.accept(row, logits.subarray(b * V, (b + 1) * V))) this.finished.add(row);
    });
    this.dropFinished();
  }

  private readonly finished = new Set<Row>();
  private presentNames: string[] | null = null;

  /** Logits and the grown cache. */
  private fetches(): string[] {
    this.presentNames ??= Array.from({ length: this.host.model.layerCount }, (_, i) => [
      GRAPH_IO.presentKey(i),
      GRAPH_IO.presentValue(i),
    ]).flat();
    return [GRAPH_IO.logits, ...this.presentNames];
  }

  private dropFinished(): void {
    if (this.finished.size === 0) return;
    this.active = this.active.filter((r) => !this.finished.has(r));
    this.finished.clear();
    this.batch = null;
  }

  /** Samples the row's next token from `logits`; returns false (and settles the row) when it is done. */
  private accept(row: Row, logits: Float32Array): boolean {
    const token = row.sampler.sample(logits);
    if (this.host.endOfGeneration.has(token)) return this.finish(row, "stop");
    row.generated.push(token);
    if (row.generated.length === 1) row.firstTokenMs = performance.now() - row.called;
    const piece = row.text.update(this.host.decode(row.generated));
    row.options.onToken?.({ token, text: piece });
    if (row.text.stopped) return this.finish(row, "stop");
    if (row.generated.length >= row.maxTokens || row.promptTokens.length + row.generated.length >= this.host.contextSize)
      return this.finish(row, "length");
    return true;
  }

  private finish(row: Row, finishReason: Generation["finishReason"]): false {
    this.finished.add(row);
    const rest = row.text.finish();
    if (rest) row.options.onToken?.({ token: -1, text: rest });
    row.resolve({
      text: row.text.text,
      tokens: row.generated,
      finishReason,
      timings: {
        promptTokens: row.promptTokens.length,
        generatedTokens: row.generated.length,
        promptMs: row.promptMs,
        decodeMs: performance.now() - row.decodeStart,
        firstTokenMs: row.firstTokenMs,
      },
    });
    return false;
  }
}
