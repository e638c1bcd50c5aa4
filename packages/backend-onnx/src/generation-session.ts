import {
  AbortedError,
  TokenSampler,
  type ChatMessage,
  type GenerateOptions,
  type GenerationSession as CoreGenerationSession,
  type GenerationSessionOptions,
  type ModelInfo,
} from "@emosteer/core";
import {
  BackendBatchedSession,
  resolveGenerateOptions,
  resolveParallelSequences,
  type SessionJob,
  type SessionRequest,
  SessionRow,
  yieldToEventLoop,
} from "@emosteer/core/engine";
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
  /**
   * One session run. `transfer`: feeds whose buffers the session may take without a copy (new
   * inputs, a KV cache not read again); they read as empty afterwards.
   */
  run(
    feeds: Record<string, ort.Tensor>,
    fetches: readonly string[],
    transfer?: readonly string[],
  ): Promise<ort.InferenceSession.ReturnType>;
  /** Counts `work` as in flight, so the backend's dispose waits for it. */
  track<T>(work: () => Promise<T>): Promise<T>;
}

/** What one `generate` call needs once its arguments are checked. */
interface PreparedGeneration extends SessionJob {
  readonly steering: { readonly prompt: Float32Array; readonly generation: Float32Array };
  readonly sampler: TokenSampler;
}

/** A row of the batch: the request's generation and where its KV cache is. */
class Row extends SessionRow<PreparedGeneration> {
  constructor(
    request: SessionRequest<PreparedGeneration>,
    contextSize: number,
    /** The cache holding this row, and its row there. */
    public kv: BatchKv,
    public kvRow: number,
  ) {
    super(request, contextSize);
  }
}

const WHAT = "ONNX session generation";

export function createGenerationSession(host: SessionHost, options: GenerationSessionOptions = {}): OnnxGenerationSession {
  return new GenerationSession(host, resolveParallelSequences(options, 4));
}

/** The ONNX decode of core's `BatchedSession` (which owns the queue, admission, aborts and failures). */
class GenerationSession extends BackendBatchedSession<PreparedGeneration, Row> implements OnnxGenerationSession {
  /** The batch cache of the active rows, in their order; null when rows joined or left since the last run. */
  private batch: BatchKv | null = null;

  constructor(
    private readonly host: SessionHost,
    parallelSequences: number,
  ) {
    super(parallelSequences, WHAT, { session: "ONNX generation session", backend: `ONNX backend for ${host.model.name}` }, host);
  }

  protected prepare(prompt: string | readonly ChatMessage[], options: GenerateOptions): PreparedGeneration {
    const resolved = resolveGenerateOptions(options);
    const promptTokens = this.host.promptTokens(prompt);
    const steering = this.host.phasedSteering(options);
    return { promptTokens, steering, sampler: new TokenSampler(resolved), maxTokens: resolved.maxTokens, stop: resolved.stop };
  }

  protected override startLoop(run: () => Promise<void>): Promise<void> {
    return this.host.track(run);
  }

  /** A request's prompt pass (batch 1, its prompt-phase steering) and first token. */
  protected async admit(request: SessionRequest<PreparedGeneration>): Promise<Row> {
    const { layerCount: L, hiddenSize: H } = this.host.model;
    const { promptTokens, steering } = request.job;
    const P = promptTokens.length;
    const empty = BatchKv.empty(1, L, this.host.kvHeads, this.host.headDim);
    const feeds: Record<string, ort.Tensor> = {
      [GRAPH_IO.inputIds]: new ort.Tensor("int64", BigInt64Array.from(promptTokens, BigInt), [1, P]),
      [GRAPH_IO.attentionMask]: empty.attentionMask(P),
      [GRAPH_IO.positionIds]: new ort.Tensor(
        "int64",
        BigInt64Array.from({ length: P }, (_, i) => BigInt(i)),
        [1, P],
      ),
      [GRAPH_IO.steering]: new ort.Tensor("float32", steering.prompt, [1, L, H]),
      ...empty.feeds(),
    };
    // The request's steering table is its own for every step (not handed over); the rest is new.
    const result = await this.host.run(
      feeds,
      this.fetches(),
      Object.keys(feeds).filter((name) => name !== GRAPH_IO.steering),
    );
    this.countPromptRun();
    const row = new Row(request, this.host.contextSize, BatchKv.fromRun(result, L, empty, P), 0);
    row.promptDone();
    // onnxruntime runs the prompt pass without looking at the signal: an abort during it rejects now, before any token.
    await yieldToEventLoop({ timers: true });
    this.assertAlive();
    if (request.options.signal?.aborted) throw new AbortedError(WHAT);
    const V = this.host.vocabSize;
    if (this.accept(row, (result[GRAPH_IO.logits]!.data as Float32Array).subarray((P - 1) * V, P * V))) this.batch = null;
    return row;
  }

  /** One decode run over every active row: each row's last token, its own KV length and steering. */
  protected async step(rows: readonly Row[]): Promise<void> {
    const { layerCount: L, hiddenSize: H } = this.host.model;
    this.batch ??= BatchKv.gather(rows.map((r) => ({ from: r.kv, row: r.kvRow })));
    const batch = this.batch;
    const B = rows.length;
    const steering = new Float32Array(B * L * H);
    for (const [b, r] of rows.entries()) steering.set(r.job.steering.generation, b * L * H);
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
    // All of it is handed over: the inputs are new and the batch cache is replaced by the run's.
    const result = await this.host.run(feeds, this.fetches(), Object.keys(feeds));
    this.countDecodeRun(B);
    this.assertAlive();
    const next = BatchKv.fromRun(result, L, batch, 1);
    this.batch = next;
    const logits = result[GRAPH_IO.logits]!.data as Float32Array;
    const V = this.host.vocabSize;
    rows.forEach((row, b) => {
      row.kv = next;
      row.kvRow = b;
      this.accept(row, logits.subarray(b * V, (b + 1) * V));
    });
  }

  /** Rows left: the batch cache is gathered again from the rows that stay. */
  protected leave(): void {
    this.batch = null;
  }

  private presentNames: string[] | null = null;

  /** Logits and the grown cache. */
  private fetches(): string[] {
    this.presentNames ??= Array.from({ length: this.host.model.layerCount }, (_, i) => [
      GRAPH_IO.presentKey(i),
      GRAPH_IO.presentValue(i),
    ]).flat();
    return [GRAPH_IO.logits, ...this.presentNames];
  }

  /** Samples the row's next token from `logits`; returns false (the row is settled) when it is done. */
  private accept(row: Row, logits: Float32Array): boolean {
    const token = row.job.sampler.sample(logits);
    return row.accept(token, this.host.endOfGeneration.has(token), (tokens) => this.host.decode(tokens));
  }
}
