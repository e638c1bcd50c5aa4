/**
 * Natural-log probability of `token` under the softmax of one row of logits (`vocab` values from
 * `offset`), computed stably (max subtracted). The scoring primitive of every engine.
 */
export function logSoftmaxAt(logits: ArrayLike<number>, offset: number, vocab: number, token: number): number {
  if (!(Number.isInteger(token) && token >= 0 && token < vocab))
    throw new RangeError(`token ${token} is outside the vocabulary of ${vocab}.`);
  let max = -Infinity;
  for (let i = offset; i < offset + vocab; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = offset; i < offset + vocab; i++) sum += Math.exp(logits[i]! - max);
  return logits[offset + token]! - max - Math.log(sum);
}
