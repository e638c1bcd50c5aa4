import type { Generation } from "../steering-backend.js";
import { GenerationText } from "./generation-text.js";
import type { SessionRequest } from "./session-queue.js";

/** What a session's prepared call carries for its row to know when the generation ends. */
export interface SessionJob {
  readonly promptTokens: readonly number[];
  readonly maxTokens: number;
  readonly stop: readonly string[];
}

/**
 * A request that holds a place in the batch: its prompt pass (whole, in the engine's `admit`),
 * then its tokens, streamed text and timings. It exists so that every
 * session engine ends a generation the same way (stop strings never streamed, "length" at
 * maxTokens or a full context, the held-back text flushed, the same `Generation` with the same
 * timings); the engine only says which token came next. Engines extend it with what they keep per
 * sequence (a llama.cpp sequence id, an ONNX KV row).
 */
export class SessionRow<J extends SessionJob> {
  readonly generated: number[] = [];
  readonly text: GenerationText;
  promptMs = 0;
  firstTokenMs = 0;
  decodeStart = 0;
  private finished = false;

  /** `contextSize`: the positions one sequence may hold; a row that fills them ends "length". */
  constructor(
    readonly request: SessionRequest<J>,
    readonly contextSize: number,
  ) {
    this.text = new GenerationText(request.job.stop);
  }

  /** What the engine prepared for this request. */
  get job(): J {
    return this.request.job;
  }

  /** True once the row's generation is settled: it leaves the batch at the next step boundary. */
  get done(): boolean {
    return this.finished;
  }

  /** Marks the end of the prompt pass: the prompt time is taken and decoding time starts. */
  promptDone(): void {
    this.promptMs = performance.now() - this.request.called;
    this.decodeStart = performance.now();
  }

  /**
   * Takes the next token (`end`: it ends the generation, as an end-of-generation token or none at
   * all); `detokenize` gives the text of all tokens so far. Returns false (the row is settled)
   * when the generation is done.
   */
  accept(token: number, end: boolean, detokenize: (tokens: readonly number[]) => string): boolean {
    if (end) return this.finish("stop");
    this.generated.push(token);
    if (this.generated.length === 1) this.firstTokenMs = performance.now() - this.request.called;
    // Updated whether or not anyone streams: it also finds the stop strings.
    const piece = this.text.update(detokenize(this.generated));
    this.request.options.onToken?.({ token, text: piece });
    if (this.text.stopped) return this.finish("stop");
    const { promptTokens, maxTokens } = this.request.job;
    if (this.generated.length >= maxTokens || promptTokens.length + this.generated.length >= this.contextSize) return this.finish("length");
    return true;
  }

  /** Settles the request with what the row generated (the held-back text is streamed first). */
  finish(finishReason: Generation["finishReason"]): false {
    this.finished = true;
    const rest = this.text.finish();
    if (rest) this.request.options.onToken?.({ token: -1, text: rest });
    this.request.resolve({
      text: this.text.text,
      tokens: this.generated,
      finishReason,
      timings: {
        promptTokens: this.request.job.promptTokens.length,
        generatedTokens: this.generated.length,
        promptMs: this.promptMs,
        decodeMs: performance.now() - this.decodeStart,
        firstTokenMs: this.firstTokenMs,
      },
    });
    return false;
  }
}
