import { BaseStreamer, StoppingCriteria, type PreTrainedTokenizer } from "@huggingface/transformers";
import type { GeneratedToken } from "@emosteer/core";

/** Clock shared by Node and browsers. */
export const now = (): number => performance.now();

/**
 * Follows one generate() call token by token: records timings, streams text deltas to `onToken`,
 * and notices end-of-generation tokens, stop strings and aborts. transformers.js calls `put` once
 * with the prompt and then once per generated token, before it checks the stopping criteria, so
 * {@link GenerationStop} can read what this saw.
 */
export class GenerationTracker extends BaseStreamer {
  readonly tokens: number[] = [];
  text = "";
  sawEndToken = false;
  stopHit = false;
  firstTokenAt: number | null = null;
  lastTokenAt: number | null = null;
  private promptSeen = false;
  private streamed = 0;

  constructor(
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly endTokens: ReadonlySet<number>,
    private readonly stop: readonly string[],
    private readonly onToken?: (token: GeneratedToken) => void,
  ) {
    super();
  }

  override put(value: bigint[][]): void {
    if (!this.promptSeen) {
      this.promptSeen = true;
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
    const cut = firstStop(decoded, this.stop);
    if (cut !== null) this.stopHit = true;
    this.text = cut === null ? decoded : decoded.slice(0, cut);
    // An incomplete UTF-8 sequence decodes to U+FFFD; hold it back until the next token completes it.
    const ready = cut === null && decoded.endsWith("\uFFFD") ? this.streamed : this.text.length;
    const delta = this.text.slice(this.streamed, Math.max(ready, this.streamed));
    this.streamed = Math.max(ready, this.streamed);
    this.onToken?.({ token, text: delta });
  }

  override end(): void {}
}

/** Ends generation on a stop string or an abort (transformers.js stops on EOS and length itself). */
export class GenerationStop extends StoppingCriteria {
  constructor(
    private readonly tracker: GenerationTracker,
    private readonly signal?: AbortSignal,
  ) {
    super();
  }

  override _call(inputIds: number[][]): boolean[] {
    const done = this.tracker.stopHit || this.signal?.aborted === true;
    return inputIds.map(() => done);
  }
}

function firstStop(text: string, stop: readonly string[]): number | null {
  let first: number | null = null;
  for (const s of stop) {
    if (!s) continue;
    const at = text.indexOf(s);
    if (at >= 0 && (first === null || at < first)) first = at;
  }
  return first;
}
