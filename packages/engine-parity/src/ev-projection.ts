import type { EmotionVector, SteeringBackend } from "@emosteer/core";

/**
 * How far a response moved along an EV: the mean over the response tokens of `judge`'s residual
 * at `layer` (teacher-forced, unsteered), projected on the EV's unit direction at that layer. One
 * judge for texts from every engine, so their numbers are on one scale. 0 for an empty response.
 */
export async function evProjection(
  judge: SteeringBackend,
  vector: EmotionVector,
  layer: number,
  prompt: string,
  response: string,
): Promise<number> {
  const promptTokens = await judge.tokenize(prompt);
  const tokens = [...promptTokens, ...(await judge.tokenize(response))];
  if (tokens.length === promptTokens.length) return 0;
  const capture = await judge.captureResiduals({ tokens, spanStart: promptTokens.length, spanEnd: tokens.length, layers: [layer] });
  const direction = vector.directions[layer]!;
  const norm = Math.hypot(...direction);
  if (norm === 0) throw new RangeError(`EV "${vector.emotion}" is zero at layer ${layer}: no direction to project on`);
  let sum = 0;
  for (let p = 0; p < capture.positions; p++) {
    for (let i = 0; i < capture.hiddenSize; i++) sum += capture.data[0]![p * capture.hiddenSize + i]! * direction[i]!;
  }
  return sum / capture.positions / norm;
}
