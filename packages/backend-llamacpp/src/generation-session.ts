import {
  AbortedError,
  DisposedError,
  type ChatMessage,
  type GenerateOptions,
  type GenerationSession,
  type GenerationSessionOptions,
  type ModelInfo,
} from "@emosteer/core";
import { BatchedSession, planStep, resolveParallelSequences, type SessionRequest, SessionRow } from "@emosteer/core/engine";
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
 * Up to `parallelSequences` generations on one llama.cpp context of as many sequences, batched
 * continuously as llama.cpp's server does: each step is one llama_decode of every generating
 * sequence's next token plus the joiners' prompt chunks, as many prompt tokens as the batch size
 * leaves (core's `planStep`), so a joiner's prompt never runs in a decode of its own and a long
 * prompt is spread over several steps. Each sequence is steered by its own row of the patched
 * llama.cpp's per-sequence steering table (`setSequenceSteering`): the prompt phase's vector while
 * its prompt is evaluated, the generation phase's from its first generated token on (`apply`), so
 * requests with different mixes and phases share the decode without leaking into each other. The
 * queue, admission, aborts and failures are core's `BatchedSession`.
 */
class LlamaCppGenerationSession extends BatchedSession<PreparedGeneration, Row> {
  private readonly freeSequences: number[];
  private context: NativeContext | null = null;
  private isDisposed = false;
  private disposing: Promise<void> | null = null;

  constructor(
    private readonly host: SessionHost,
    parallelSequences: number,
  ) {
    super(parallelSequences, WHAT);
    this.freeSequences = Array.from({ length: parallelSequences }, (_, i) => i);
  }

  dispose(): Promise<void> {
    this.isDisposed = true;
    this.disposing ??= (async () => {
      await this.running;
      // The loop is over: no decode runs on the context any more.
      await this.context?.dispose();
      this.context = null;
      this.host.release(this);
    })();
    return this.disposing;
  }

  protected assertAlive(): void {
    if (this.isDisposed) throw new DisposedError("llama.cpp generation session");
    if (this.host.disposed) throw new DisposedError(`llama.cpp backend for ${this.host.model.name}`);
  }

  protected prepare(prompt: string | readonly ChatMessage[], options: GenerateOptions): PreparedGeneration {
    return this.host.prepare(prompt, options);
  }

  protected override async beforeRound(): Promise<void> {
    this.context ??= await this.host.createContext(this.parallelSequences);
    this.assertAlive();
  }

  /**
   * Takes a sequence for the request, under its prompt-phase steering; its prompt is evaluated by
   * the next steps, beside the other sequences' tokens (continuous batching).
   */
  protected async admit(request: SessionRequest<PreparedGeneration>): Promise<Row> {
    const ctx = this.context!;
    const sequence = this.freeSequences.shift()!;
    const sampler = this.host.createSampler();
    const row = new Row(request, this.host.contextSize, sequence, sampler);
    try {
      sampler.applyConfig(request.job.sampling);
      ctx.disposeSequence(sequence); // the cells a previous request left in it
      setSteering(ctx, sequence, request.job.steering.prompt);
      return row;
    } catch (error) {
      this.release(row);
      throw error;
    }
  }

  /**
   * One llama_decode: each generating sequence's last token at its own position and the prompting
   * sequences' next prompt chunks, in ascending sequence order (llama.cpp splits a batch of
   * several sequences, non-unified KV cache, into micro-batches of consecutive sequence ids).
   */
  protected async step(rows: readonly Row[]): Promise<void> {
    const ctx = this.context!;
    // The context's batch holds max(batchSize, parallelSequences) tokens (the backend's createContext).
    const budget = Math.max(this.host.batchSize, this.parallelSequences);
    const pieces = planStep(rows, budget).sort((a, b) => a.row.sequence - b.row.sequence);
    ctx.initBatch(pieces.reduce((n, p) => n + p.tokens.length, 0));
    const logitIndexes = pieces.map(
      ({ row, position, tokens, sample }) =>
        ctx.addToBatch(
          row.sequence,
          position,
          Uint32Array.from(tokens),
          sample ? Uint32Array.of(tokens.length - 1) : new Uint32Array(0),
        )[0] as BatchLogitIndex | undefined,
    );
    // The batched path's promise: every generating sequence is in this one decode.
    const generating = rows.filter((row) => !row.prompting).length;
    const decoding = pieces.filter((p) => !p.row.prompting).length;
    if (decoding !== generating) throw new Error(`internal: a decode step carried ${decoding} of ${generating} generating sequences`);
    await ctx.decodeBatch();
    const prompting = pieces.filter((p) => p.row.prompting).length;
    this.countDecodeRun(pieces.length, prompting);
    this.assertAlive();
    const sampled: { row: Row; index: BatchLogitIndex }[] = [];
    for (const [i, { row, tokens, sample }] of pieces.entries()) {
      if (!row.prompting) {
        sampled.push({ row, index: logitIndexes[i]! });
        continue;
      }
      row.promptEvaluated += tokens.length;
      if (!sample) continue;
      this.countPromptRun();
      // Aborted before any token exists: the call rejects (an abort between chunks is core's, at the step boundary).
      if (row.request.options.signal?.aborted) {
        row.fail(new AbortedError(WHAT));
        continue;
      }
      row.promptDone();
      // The generated tokens are decoded under the generation phase's steering (apply: "prompt" | "generation").
      const { steering } = row.job;
      if (steering.generation !== steering.prompt) setSteering(ctx, row.sequence, steering.generation);
      sampled.push({ row, index: logitIndexes[i]! });
    }
    // Each sequence's own sampler, all at once (as node-llama-cpp samples its sequences): one
    // round trip to the thread pool per step instead of one per sequence.
    const tokens = await Promise.all(sampled.map(({ row, index }) => ctx.sampleToken(index, row.sampler)));
    this.assertAlive();
    for (const [i, { row }] of sampled.entries()) this.accept(row, tokens[i]!);
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
