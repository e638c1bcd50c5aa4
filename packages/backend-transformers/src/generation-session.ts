import {
  AbortedError,
  TokenSampler,
  type ChatMessage,
  type GenerateOptions,
  type GenerationSession,
  type GenerationSessionOptions,
  type ModelInfo,
} from "@emosteer/core";
import {
  BackendBatchedSession,
  PaddedKvCache,
  resolveGenerateOptions,
  resolveParallelSequences,
  type SessionJob,
  type SessionRequest,
  SessionRow,
  yieldToEventLoop,
} from "@emosteer/core/engine";
import { Tensor } from "@huggingface/transformers";
import { STEERING_INPUT } from "./steerable-model.js";

/** What the backend lends a session (its loaded model, tokenizer, steering resolution and forward pass). */
export interface SessionHost {
  readonly model: ModelInfo;
  readonly contextSize: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly endOfGeneration: ReadonlySet<number>;
  readonly disposed: boolean;
  /** A prompt's tokens, with generate's refusals (empty prompt, context overflow). */
  promptTokens(prompt: string | readonly ChatMessage[]): number[];
  /** `{ prompt, generation }` steering tables (`layers × hidden` each) of a call's spec and phase. */
  phasedSteering(options: GenerateOptions): { readonly prompt: Float32Array; readonly generation: Float32Array };
  decode(tokens: readonly number[]): string;
  /**
   * One forward pass of the model (logits and the grown cache): in the backend's session worker
   * thread, or on this thread taking its turn with the backend's own calls (they share the
   * runtime's session and its output selection). `transfer`: inputs whose buffers the pass may
   * take without a copy (`"past_key_values"`: the whole cache), as the ONNX session hands its KV over.
   */
  forward(inputs: Record<string, unknown>, transfer: readonly string[]): Promise<Record<string, Tensor>>;
}

/** What one `generate` call needs once its arguments are checked. */
interface PreparedGeneration extends SessionJob {
  readonly steering: { readonly prompt: Float32Array; readonly generation: Float32Array };
  readonly sampler: TokenSampler;
}

type Cache = PaddedKvCache<Tensor>;

/** A row of the batch: the request's generation and where its KV cache is. */
class Row extends SessionRow<PreparedGeneration> {
  constructor(
    request: SessionRequest<PreparedGeneration>,
    contextSize: number,
    /** The cache holding this row, and its row there. */
    public kv: Cache,
    public kvRow: number,
  ) {
    super(request, contextSize);
  }
}

const WHAT = "transformers.js session generation";
const float32 = (data: Float32Array, dims: readonly number[]) => new Tensor("float32", data, [...dims]);
const int64 = (data: BigInt64Array, dims: readonly number[]) => new Tensor("int64", data, [...dims]);
// The exported graph's (and transformers.js's) cache names.
const pastName = (tensor: number) => `past_key_values.${tensor >> 1}.${tensor % 2 === 0 ? "key" : "value"}`;
const presentName = (tensor: number) => `present.${tensor >> 1}.${tensor % 2 === 0 ? "key" : "value"}`;

export function createGenerationSession(host: SessionHost, options: GenerationSessionOptions = {}): GenerationSession {
  return new TransformersGenerationSession(host, resolveParallelSequences(options, 4));
}

/**
 * The transformers.js decode of core's `BatchedSession` (which owns the queue, admission, aborts
 * and failures): the same exported graph the ONNX engine batches, its `steering` input
 * `[batch, layers, hidden]` (row b for sequence b), run through transformers.js's forward pass so
 * it works wherever transformers.js does (onnxruntime-node, onnxruntime-web). The KV layout is
 * core's {@link PaddedKvCache}, as on the ONNX engine.
 */
class TransformersGenerationSession extends BackendBatchedSession<PreparedGeneration, Row> {
  /** The batch cache of the active rows, in their order; null when rows joined or left since the last run. */
  private batch: Cache | null = null;

  constructor(
    private readonly host: SessionHost,
    parallelSequences: number,
  ) {
    super(parallelSequences, WHAT, { session: "transformers.js generation session", backend: "transformers.js backend" }, host);
  }

  protected prepare(prompt: string | readonly ChatMessage[], options: GenerateOptions): PreparedGeneration {
    const resolved = resolveGenerateOptions(options);
    const promptTokens = this.host.promptTokens(prompt);
    const steering = this.host.phasedSteering(options);
    return { promptTokens, steering, sampler: new TokenSampler(resolved), maxTokens: resolved.maxTokens, stop: resolved.stop };
  }

  /** A request's prompt pass (batch 1, its prompt-phase steering) and first token. */
  protected async admit(request: SessionRequest<PreparedGeneration>): Promise<Row> {
    const L = this.host.model.layerCount;
    const { promptTokens, steering } = request.job;
    const P = promptTokens.length;
    const empty = PaddedKvCache.empty(1, 2 * L, this.host.kvHeads, this.host.headDim, float32);
    // The request's steering table is its own for every step (not handed over); the rest is new.
    const result = await this.forwardRows(empty, promptTokens, [1, P], steering.prompt, false);
    this.countPromptRun();
    const row = new Row(request, this.host.contextSize, empty.grown(this.presents(result), P), 0);
    row.promptDone();
    // The runtime runs the prompt pass without looking at the signal: an abort during it rejects now, before any token.
    await yieldToEventLoop({ timers: true });
    this.assertAlive();
    if (request.options.signal?.aborted) throw new AbortedError(WHAT);
    const logits = result["logits"]!.data as Float32Array;
    const V = logits.length / P;
    if (this.accept(row, logits.subarray((P - 1) * V, P * V))) this.batch = null;
    return row;
  }

  /** One decode run over every active row: each row's last token, its own KV length and steering. */
  protected async step(rows: readonly Row[]): Promise<void> {
    const { layerCount: L, hiddenSize: H } = this.host.model;
    this.batch ??= PaddedKvCache.gather(rows.map((r) => ({ from: r.kv, row: r.kvRow })));
    const batch = this.batch;
    const B = rows.length;
    // The batched path's promise: every active sequence is in this one run.
    if (batch.rows !== B) throw new Error(`internal: a decode run carried ${batch.rows} of ${B} active sequences`);
    const steering = new Float32Array(B * L * H);
    for (const [b, r] of rows.entries()) steering.set(r.job.steering.generation, b * L * H);
    const result = await this.forwardRows(
      batch,
      rows.map((r) => r.generated.at(-1)!),
      [B, 1],
      steering,
      true,
    );
    this.countDecodeRun(B);
    this.assertAlive();
    const next = batch.grown(this.presents(result), 1);
    this.batch = next;
    const logits = result["logits"]!.data as Float32Array;
    const V = logits.length / B;
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

  /**
   * One forward pass appending `tokens` (`[rows, added]`) to `cache`, with `steering` (`rows`
   * tables). Every input but the steering table is new or not read again (the run's cache replaces
   * `cache`), so it is handed over; `steering` too when `handOverSteering`.
   */
  private async forwardRows(
    cache: Cache,
    tokens: readonly number[],
    dims: readonly number[],
    steering: Float32Array,
    handOverSteering: boolean,
  ): Promise<Record<string, Tensor>> {
    const { layerCount: L, hiddenSize: H } = this.host.model;
    const added = dims[1]!;
    const past: Record<string, Tensor> = {};
    cache.tensors.forEach((t, i) => {
      past[pastName(i)] = t;
    });
    this.assertAlive();
    const result = await this.host.forward(
      {
        input_ids: int64(BigInt64Array.from(tokens, BigInt), dims),
        attention_mask: int64(cache.attentionMask(added), [cache.rows, cache.width + added]),
        position_ids: int64(cache.positionIds(added), dims),
        [STEERING_INPUT]: float32(steering, [cache.rows, L, H]),
        past_key_values: past,
      },
      ["input_ids", "attention_mask", "position_ids", "past_key_values", ...(handOverSteering ? [STEERING_INPUT] : [])],
    );
    this.assertAlive();
    return result;
  }

  /** The grown cache a run returned, in the cache's order. */
  private presents(result: Record<string, Tensor>): Tensor[] {
    return Array.from({ length: 2 * this.host.model.layerCount }, (_, i) => {
      const tensor = result[presentName(i)];
      if (!tensor) throw new Error(`internal: the run returned no ${presentName(i)}`);
      return tensor;
    });
  }

  /** Samples the row's next token from `logits`; returns false (the row is settled) when it is done. */
  private accept(row: Row, logits: Float32Array): boolean {
    const token = row.job.sampler.sample(logits);
    return row.accept(token, this.host.endOfGeneration.has(token), (tokens) => this.host.decode(tokens));
  }
}
