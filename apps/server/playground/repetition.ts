/**
 * How repetitive a streamed answer has become, from 0 (no repeats) to 1: the share of the last 60
 * words' 3-word sequences that already occurred in them. Over-steered models fall into loops
 * ("I am so happy! I am so happy! …"); the playground warns from {@link REPETITIVE} on.
 */
export function repetitionScore(text: string): number {
  const words = text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
  const tail = words.slice(-60);
  if (tail.length < 12) return characterLoop(text) ? 1 : 0;
  const seen = new Set<string>();
  let repeated = 0;
  for (let i = 0; i + 3 <= tail.length; i++) {
    const gram = tail.slice(i, i + 3).join(" ");
    if (seen.has(gram)) repeated++;
    else seen.add(gram);
  }
  const score = repeated / (tail.length - 2);
  return characterLoop(text) ? Math.max(score, 1) : score;
}

/** Score from which the playground shows its warning. */
export const REPETITIVE = 0.35;

/** A run of the same 3+ characters four times or more at the end (loops of punctuation or emoji carry no words). */
function characterLoop(text: string): boolean {
  return /(\S.{2,30}?)\1{3,}\s*$/su.test(text.slice(-400));
}
