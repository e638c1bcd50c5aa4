import {
  AbortedError,
  DisposedError,
  InvalidArgumentError,
  type ChatMessage,
  type GenerateOptions,
  type Generation,
  type GenerationSession,
  type GenerationSessionOptions,
  type GenerationSessionStats,
  type ModelInfo,
} from "@emosteer/core";
import { GenerationText, yieldToEventLoop } from "@emosteer/core/engine";
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

interface Request {
  readonly prepared: PreparedGeneration;
  readonly options: GenerateOptions;
  readonly text: GenerationText;
  readonly called: number;
  readonly resolve: (g: Generation) => void;
  readonly reject: (e: unknown) => void;
}

interface Row extends Request {
  /** The llama.cpp sequence id this request decodes in (its KV cells and its steering row). */
  readonly sequence: number;
  readonly sampler: NativeSampler;
  readonly generated: number[];
  promptMs: number;
  firstTokenMs: number;
  decodeStart: number;
  /** Its sampler is freed and its sequence back in the free list. */
  released: boolean;
}

const WHAT = "llama.cpp session generation";

export function createGenerationSession(host: SessionHost, options: GenerationSessionOptions = {}): GenerationSession {
  const parallel = options.parallelSequences ?? DEFAULT_PARALLEL_SEQUENCES;
  if (!(Number.isSafeInteger(parallel) && parallel >= 1 && parallel <= MAX_PARALLEL_SEQUENCES))
    throw new InvalidArgumentError("parallelSequences", parallel, `a whole number from 1 to ${MAX_PARALLEL_SEQUENCES}`);
  return new LlamaCppGenerationSession(host, parallel);
}

/** llama.cpp's own bound on the sequences of one context (LLAMA_MAX_SEQ). */
export const MAX_PARALLEL_SEQUENCES = 256;

/**
 * Up to `parallelSequences` generations on one llama.cpp context of as many sequences: each
 * request's prompt is decoded alone in its own sequence, then every active sequence's next token
 * goes into one batch and one llama_decode per step. Each sequence is steered by its own row of
 * the patched llama.cpp's per-sequence steering table (`setSequenceSteering`), so requests with
 * different mixes share the decode without leaking into each other.
 */
class LlamaCppGenerationSession implements GenerationSession {
  private readonly pending: Request[] = [];
  private active: Row[] = [];
  private readonly freeSequences: number[];
  private context: NativeContext | null = null;
  private loop: Promise<void> | null = null;
  private isDisposed = false;
  private disposing: Promise<void> | null = null;
  private readonly counts = { decodeRuns: 0, sharedRuns: 0, maxSequencesInOneRun: 0, promptRuns: 0 };

  constructor(
    private readonly host: SessionHost,
    readonly parallelSequences: number,
  ) {
    this.freeSequences = Array.from({ length: parallelSequences }, (_, i) => i);
  }

  get stats(): GenerationSessionStats {
    return { ...this.counts };
  }

  // async: a refused call rejects (never throws), as on the backend.
  async generate(prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): Promise<Generation> {
    this.assertAlive();
    const called = performance.now();
    // The backend's own checks: a bad argument refuses even an already aborted call.
    const prepared = this.host.prepare(prompt, options);
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
        prepared,
        options,
        text: new GenerationText(prepared.stop),
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
      this.loop ??= this.run();
    });
  }

  dispose(): Promise<void> {
    this.isDisposed = true;
    this.disposing ??= (async () => {
      await this.loop;
      // The loop is over: no decode runs on the context any more.
      await this.context?.dispose();
      this.context = null;
      this.host.release(this);
    })();
    return this.disposing;
  }

  private assertAlive(): void {
    if (this.isDisposed) throw new DisposedError("llama.cpp generation session");
    if (this.host.disposed) throw new DisposedError(`llama.cpp backend for ${this.host.model.name}`);
  }

  /** The scheduler: admit at step boundaries, one batched llama_decode per step, until no work is left. */
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
        this.context ??= await this.host.createContext(this.parallelSequences);
        this.assertAlive();
        for (const row of this.active) if (row.options.signal?.aborted) this.finish(row, "abort");
        this.dropFinished();
        while (this.active.length < this.parallelSequences && this.pending.length > 0) await this.admit(this.pending.shift()!);
        if (this.active.length > 0) await this.step();
      } catch (error) {
        for (const row of [...this.active, ...this.finished]) this.release(row);
        for (const r of [...this.active, ...this.pending.splice(0)]) r.reject(error);
        this.active = [];
        this.finished.clear();
      }
    }
  }

  /**
   * A request's prompt pass (its sequence alone, in chunks of the batch size, under its
   * prompt-phase steering) and first token; it joins the batch unless already done.
   */
  private async admit(request: Request): Promise<void> {
    if (request.options.signal?.aborted) return request.reject(new AbortedError(WHAT));
    const ctx = this.context!;
    const sequence = this.freeSequences.shift()!;
    const { promptTokens, steering, sampling } = request.prepared;
    const sampler = this.host.createSampler();
    sampler.applyConfig(sampling);
    const row: Row = { ...request, sequence, sampler, generated: [], promptMs: 0, firstTokenMs: 0, decodeStart: 0, released: false };
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
      this.counts.promptRuns++;
      this.assertAlive();
      if (request.options.signal?.aborted) throw new AbortedError(WHAT);
      row.promptMs = performance.now() - request.called;
      row.decodeStart = performance.now();
      // The generated tokens are decoded under the generation phase's steering (apply: "prompt" | "generation").
      if (steering.generation !== steering.prompt) setSteering(ctx, sequence, steering.generation);
      const token = await ctx.sampleToken(logitIndex!, sampler);
      if (this.accept(row, token)) this.active.push(row);
    } catch (error) {
      this.release(row);
      request.reject(error);
      if (error instanceof DisposedError) throw error; // fails everything else too, in run()
    }
  }

  /** One llama_decode over every active sequence: each one's last token at its own position. */
  private async step(): Promise<void> {
    const ctx = this.context!;
    const rows = this.active;
    ctx.initBatch(rows.length);
    const logitIndexes = rows.map((row) => {
      const position = row.prepared.promptTokens.length + row.generated.length - 1;
      return ctx.addToBatch(row.sequence, position, Uint32Array.of(row.generated.at(-1)!), Uint32Array.of(0))[0] as BatchLogitIndex;
    });
    // The batched path's promise: every active sequence is in this one decode.
    if (new Set(logitIndexes).size !== rows.length)
      throw new Error(`internal: a decode step carried ${new Set(logitIndexes).size} of ${rows.length} active sequences`);
    await ctx.decodeBatch();
    this.counts.decodeRuns++;
    if (rows.length >= 2) this.counts.sharedRuns++;
    this.counts.maxSequencesInOneRun = Math.max(this.counts.maxSequencesInOneRun, rows.length);
    this.assertAlive();
    // Each sequence's own sampler, all at once (as node-llama-cpp samples its sequences): one
    // round trip to the thread pool per step instead of one per sequence.
    const tokens = await Promise.all(rows.map((row, i) => ctx.sampleToken(logitIndexes[i]!, row.sampler)));
    this.assertAlive();
    for (const [i, row] of rows.entries()) if (!this.accept(row, tokens[i]!)) this.finished.add(row);
    this.dropFinished();
  }

  private readonly finished = new Set<Row>();

  private dropFinished(): void {
    if (this.finished.size === 0) return;
    for (const row of this.finished) this.release(row);
    this.active = this.active.filter((r) => !this.finished.has(r));
    this.finished.clear();
  }

  /** Frees the row's sampler and sequence (its KV cells are cleared when the sequence is next taken). */
  private release(row: Row): void {
    if (row.released) return;
    row.released = true;
    row.sampler.dispose();
    this.freeSequences.push(row.sequence);
    this.freeSequences.sort((a, b) => a - b); // the lowest free id first: a fixed schedule gets fixed sequences
  }

  /** Takes the row's sampled token (-1: none); returns false (and settles the row) when it is done. */
  private accept(row: Row, token: number): boolean {
    const model = this.host.nativeModel;
    if (token === -1 || model.isEogToken(token)) return this.finish(row, "stop");
    row.generated.push(token);
    if (row.generated.length === 1) row.firstTokenMs = performance.now() - row.called;
    // Updated whether or not anyone streams: it also finds the stop strings.
    const piece = row.text.update(model.detokenize(Uint32Array.from(row.generated), true));
    row.options.onToken?.({ token, text: piece });
    if (row.text.stopped) return this.finish(row, "stop");
    const { promptTokens, maxTokens } = row.prepared;
    if (row.generated.length >= maxTokens || promptTokens.length + row.generated.length >= this.host.contextSize)
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
        promptTokens: row.prepared.promptTokens.length,
        generatedTokens: row.generated.length,
        promptMs: row.promptMs,
        decodeMs: performance.now() - row.decodeStart,
        firstTokenMs: row.firstTokenMs,
      },
    });
    return false;
  }
}

/** Installs (or clears) the sequence's row of the per-sequence steering table. */
function setSteering(ctx: NativeContext, sequence: number, vector: ControlVector | null): void {
  if (vector) ctx.setSequenceSteering(sequence, vector.rows, vector.from, vector.to);
  else ctx.setSequenceSteering(sequence, null);
}
