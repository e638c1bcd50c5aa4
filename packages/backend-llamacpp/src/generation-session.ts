import {
  AbortedError,
  type ChatMessage,
  type GenerateOptions,
  type GenerationSession,
  type GenerationSessionOptions,
  type ModelInfo,
} from "@emosteer/core";
import { BackendBatchedSession, resolveParallelSequences, type SessionRequest, SessionRow } from "@emosteer/core/engine";
import type { ControlVector } from "./control-vector.js";
import type { BatchLogitIndex, NativeContext, NativeModel, NativeSampler } from "./native.js";

/** The sequences a session runs at once when the caller does not say (`capabilities.parallelSequences`). */
export const DEFAULT_PARALLEL_SEQUENCES = 4;

/** What one `generate` call needs once its arguments are checked (the backend prepares it as for its own generate). */
export interface PreparedGeneration {
  readonly promptTokens: readonly number[];
  /** The control vector of the prompt pass and of the generated tokens (`apply`), null: unsteered. */
  readonly steering: { readonly prompt: ControlVector | null; readonly generation: ControlVector | null };
  readonly maxTokens: number;
  readonly sampling: { temperature: number; topK?: number; topP?: number; seed?: number };
  readonly stop: readonly string[];
}

/** What the backend lends a session: its loaded model, argument checks and native pieces. */
export interface SessionHost {
  readonly model: ModelInfo;
  readonly contextSize: number;
  readonly batchSize: number;
  readonly nativeModel: NativeModel;
  readonly disposed: boolean;
  /** Checks the call and tokenizes the prompt, throwing the errors the backend's generate throws. */
  prepare(prompt: string | readonly ChatMessage[], options: GenerateOptions): PreparedGeneration;
  /** A llama.cpp context of `sequences` sequences of `contextSize` tokens each, on the loaded model. */
  createContext(sequences: number): Promise<NativeContext>;
  createSampler(): NativeSampler;
  /** Called once the session is disposed and its context freed. */
  release(session: GenerationSession): void;
}

/** A row of the batch: the request's generation and the llama.cpp sequence it decodes in. */
class Row extends SessionRow<PreparedGeneration> {
  /** Its sampler is freed and its sequence back in the free list. */
  released = false;

  constructor(
    request: SessionRequest<PreparedGeneration>,
    contextSize: number,
    /** The llama.cpp sequence id this request decodes in (its KV cells and its steering row). */
    readonly sequence: number,
    readonly sampler: NativeSampler,
  ) {
    super(request, contextSize);
  }
}

const WHAT = "llama.cpp session generation";

export function createGenerationSession(host: SessionHost, options: GenerationSessionOptions = {}): GenerationSession {
  return new LlamaCppGenerationSession(host, resolveParallelSequences(options, DEFAULT_PARALLEL_SEQUENCES, MAX_PARALLEL_SEQUENCES));
}

/** llama.cpp's own bound on the sequences of one context (LLAMA_MAX_SEQ). */
export const MAX_PARALLEL_SEQUENCES = 256;

/**
 * Up to `parallelSequences` generations on one llama.cpp context of as many sequences: each
 * request's prompt is decoded alone in its own sequence, then every active sequence's next token
 * goes into one batch and one llama_decode per step. Each sequence is steered by its own row of
 * the patched llama.cpp's per-sequence steering table (`setSequenceSteering`), so requests with
 * different mixes share the decode without leaking into each other. The queue, admission, aborts
 * and failures are core's `BatchedSession`, the lifecycle core's `BackendBatchedSession`.
 */
class LlamaCppGenerationSession extends BackendBatchedSession<PreparedGeneration, Row> {
  private readonly freeSequences: number[];
  private context: NativeContext | null = null;
  private disposing: Promise<void> | null = null;

  constructor(
    private readonly host: SessionHost,
    parallelSequences: number,
  ) {
    super(parallelSequences, WHAT, { session: "llama.cpp generation session", backend: `llama.cpp backend for ${host.model.name}` }, host);
    this.freeSequences = Array.from({ length: parallelSequences }, (_, i) => i);
  }

  /**
   * Core's dispose (refuse new calls, let the running step finish), then frees the native context
   * and tells the backend. Unlike core's, every call returns the one promise that settles once the
   * context is freed: a second dispose() must not resolve while the native context still exists.
   */
  override dispose(): Promise<void> {
    this.disposing ??= (async () => {
      await super.dispose();
      // The loop is over: no decode runs on the context any more.
      await this.context?.dispose();
      this.context = null;
      this.host.release(this);
    })();
    return this.disposing;
  }

  protected prepare(prompt: string | readonly ChatMessage[], options: GenerateOptions): PreparedGeneration {
    return this.host.prepare(prompt, options);
  }

  protected override async beforeRound(): Promise<void> {
    this.context ??= await this.host.createContext(this.parallelSequences);
    this.assertAlive();
  }

  /**
   * A request's prompt pass (its sequence alone, in chunks of the batch size, under its
   * prompt-phase steering) and first token.
   */
  protected async admit(request: SessionRequest<PreparedGeneration>): Promise<Row> {
    const ctx = this.context!;
    const sequence = this.freeSequences.shift()!;
    const { promptTokens, steering, sampling } = request.job;
    const sampler = this.host.createSampler();
    sampler.applyConfig(sampling);
    const row = new Row(request, this.host.contextSize, sequence, sampler);
    let logitIndex: BatchLogitIndex | undefined;
    try {
      ctx.disposeSequence(sequence);
      setSteering(ctx, sequence, steering.prompt);
      const { batchSize } = this.host;
      for (let start = 0; start < promptTokens.length; start += batchSize) {
        // The prompt pass stops between batches when aborted; aborted before any token exists, the call rejects.
        if (request.options.signal?.aborted) throw new AbortedError(WHAT);
        this.assertAlive();
        const end = Math.min(promptTokens.length, start + batchSize);
        ctx.initBatch(end - start);
        const last = end === promptTokens.length ? [end - 1 - start] : [];
        [logitIndex] = Array.from(
          ctx.addToBatch(sequence, start, Uint32Array.from(promptTokens.slice(start, end)), Uint32Array.from(last)),
        ) as BatchLogitIndex[];
        await ctx.decodeBatch();
      }
      this.countPromptRun();
      this.assertAlive();
      if (request.options.signal?.aborted) throw new AbortedError(WHAT);
      row.promptDone();
      // The generated tokens are decoded under the generation phase's steering (apply: "prompt" | "generation").
      if (steering.generation !== steering.prompt) setSteering(ctx, sequence, steering.generation);
      const token = await ctx.sampleToken(logitIndex!, sampler);
      this.accept(row, token);
      return row;
    } catch (error) {
      this.release(row);
      throw error;
    }
  }

  /** One llama_decode over every active sequence: each one's last token at its own position. */
  protected async step(rows: readonly Row[]): Promise<void> {
    const ctx = this.context!;
    ctx.initBatch(rows.length);
    const logitIndexes = rows.map((row) => {
      const position = row.job.promptTokens.length + row.generated.length - 1;
      return ctx.addToBatch(row.sequence, position, Uint32Array.of(row.generated.at(-1)!), Uint32Array.of(0))[0] as BatchLogitIndex;
    });
    // The batched path's promise: every active sequence is in this one decode.
    if (new Set(logitIndexes).size !== rows.length)
      throw new Error(`internal: a decode step carried ${new Set(logitIndexes).size} of ${rows.length} active sequences`);
    await ctx.decodeBatch();
    this.countDecodeRun(rows.length);
    this.assertAlive();
    // Each sequence's own sampler, all at once (as node-llama-cpp samples its sequences): one
    // round trip to the thread pool per step instead of one per sequence.
    const tokens = await Promise.all(rows.map((row, i) => ctx.sampleToken(logitIndexes[i]!, row.sampler)));
    this.assertAlive();
    for (const [i, row] of rows.entries()) this.accept(row, tokens[i]!);
  }

  protected leave(rows: readonly Row[]): void {
    for (const row of rows) this.release(row);
  }

  /** Frees the row's sampler and sequence (its KV cells are cleared when the sequence is next taken). */
  private release(row: Row): void {
    if (row.released) return;
    row.released = true;
    row.sampler.dispose();
    this.freeSequences.push(row.sequence);
    this.freeSequences.sort((a, b) => a - b); // the lowest free id first: a fixed schedule gets fixed sequences
  }

  /** Takes the row's sampled token (-1: none). */
  private accept(row: Row, token: number): void {
    const model = this.host.nativeModel;
    row.accept(token, token === -1 || model.isEogToken(token), (tokens) => model.detokenize(Uint32Array.from(tokens), true));
  }
}

/** Installs (or clears) the sequence's row of the per-sequence steering table. */
function setSteering(ctx: NativeContext, sequence: number, vector: ControlVector | null): void {
  if (vector) ctx.setSequenceSteering(sequence, vector.rows, vector.from, vector.to);
  else ctx.setSequenceSteering(sequence, null);
}
