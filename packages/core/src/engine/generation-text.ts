/**
 * The text of a generation as it grows, for streaming: what may be passed to `onToken` now, and
 * where a stop string ends it. Engines give it the detokenized text of all tokens generated so far
 * after every token. Two things are held back from the stream until the next token settles them:
 * an incomplete UTF-8 character (a token may end inside one; it decodes to U+FFFD) and a tail
 * that could be the beginning of a stop string. So a stop string is never streamed, and the text
 * streamed is always a prefix of the final `text`.
 */
export class GenerationText {
  private readonly stop: readonly string[];
  private streamed = 0;
  private current = "";
  private stoppedAt = -1;

  constructor(stop: readonly string[]) {
    this.stop = stop.filter((s) => s.length > 0);
  }

  /** True once a stop string appeared; the generation must end. */
  get stopped(): boolean {
    return this.stoppedAt !== -1;
  }

  /** The generation's text: everything before the first stop string. */
  get text(): string {
    return this.stoppedAt === -1 ? this.current : this.current.slice(0, this.stoppedAt);
  }

  /** Takes the text of all tokens so far and returns the new piece that may be streamed (often ""). */
  update(decoded: string): string {
    this.current = decoded;
    const at = firstStop(decoded, this.stop);
    if (at !== -1) {
      this.stoppedAt = at;
      return this.release(at);
    }
    let stable = decoded.length;
    while (stable > 0 && decoded.charCodeAt(stable - 1) === 0xfffd) stable--;
    return this.release(stable - longestStopPrefixSuffix(decoded.slice(0, stable), this.stop));
  }

  /** The generation ended (end token, length, abort): returns whatever was still held back. */
  finish(): string {
    return this.release(this.text.length);
  }

  private release(end: number): string {
    if (end <= this.streamed) return "";
    const piece = this.current.slice(this.streamed, end);
    this.streamed = end;
    return piece;
  }
}

/** Index of the earliest stop string in `text`, or -1. */
export function firstStop(text: string, stop: readonly string[]): number {
  let first = -1;
  for (const s of stop) {
    if (!s) continue;
    const at = text.indexOf(s);
    if (at !== -1 && (first === -1 || at < first)) first = at;
  }
  return first;
}

/** Length of the longest end of `text` that is a proper beginning of some stop string. */
function longestStopPrefixSuffix(text: string, stop: readonly string[]): number {
  let longest = 0;
  for (const s of stop) {
    for (let n = Math.min(s.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(s.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}
