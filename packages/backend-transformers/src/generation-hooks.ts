import { BaseStreamer, StoppingCriteria, type PreTrainedTokenizer } from "@huggingface/transformers";
import type { GeneratedToken } from "@emosteer/core";
import { GenerationText } from "@emosteer/core/engine";

/** Clock shared by Node and browsers. */
export const now = (): number => performance.now();

/**
 * Follows one generate() call token by token: records timings, streams text to `onToken` through
 * core's GenerationText (incomplete characters and possible stop-string beginnings held back),
 * and notices end-of-generation tokens, stop strings, aborts and dispose. transformers.js calls
 * `put` once with the prompt and then once per generated token, before it checks the stopping
 * criteria, so {@link GenerationStop} can read what this saw.
 */
export class GenerationTracker extends BaseStreamer {
  readonly tokens: number[] = [];
  readonly generation: GenerationText;
  sawEndToken = false;
  /** The signal was aborted when the first token came: the prompt pass was cancelled, no token counts. */
  abortedBeforeFirstToken = false;
  firstTokenAt: number | null = null;
  lastTokenAt: number | null = null;
  private promptSeen = false;

  constructor(
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly endTokens: ReadonlySet<number>,
    stop: readonly string[],
    private readonly signal: AbortSignal | undefined,
    private readonly onToken?: (token: GeneratedToken) => void,
  ) {
    super();
    this.generation = new GenerationText(stop);
  }

  /** Generation must end now (stop string, end token, or cancelled before the first token). */
  get done(): boolean {
    return this.generation.stopped || this.sawEndToken || this.abortedBeforeFirstToken;
  }

  override put(value: bigint[][]): void {
    if (!this.promptSeen) {
      this.promptSeen = true;
      return;
    }
    if (this.done) return;
    if (this.tokens.length === 0 && this.signal?.aborted) {
      this.abortedBeforeFirstToken = true;
      return;
    }
    const token = Number(value[0]![0]!);
    const at = now();
    this.firstTokenAt ??= at;
    this.lastTokenAt = at;
    if (this.endTokens.has(token)) {
      this.sawEndToken = true;
      return;
    }
    this.tokens.push(token);
    const decoded = this.tokenizer.decode(this.tokens, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    // Updated whether or not anyone streams: it also finds the stop strings.
    const piece = this.generation.update(decoded);
    this.onToken?.({ token, text: piece });
  }

  override end(): void {}

  /** Releases text still held back once the generation has ended (and is returned, not refused). */
  release(): void {
    const rest = this.generation.finish();
    if (rest) this.onToken?.({ token: -1, text: rest });
  }
}

/** Ends generation on a stop string, an abort or dispose (transformers.js stops on EOS and length itself). */
export class GenerationStop extends StoppingCriteria {
  constructor(
    private readonly tracker: GenerationTracker,
    private readonly signal: AbortSignal | undefined,
    private readonly disposed: () => boolean,
  ) {
    super();
  }

  override _call(inputIds: number[][]): boolean[] {
    const done = this.tracker.done || this.signal?.aborted === true || this.disposed();
    return inputIds.map(() => done);
  }
}
