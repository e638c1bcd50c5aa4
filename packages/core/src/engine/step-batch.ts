import type { SessionJob, SessionRow } from "./session-row.js";

/** What one row puts into a batched step: `tokens` at positions `position`, `position + 1`, … of its sequence. */
export interface StepPiece<R> {
  readonly row: R;
  readonly position: number;
  readonly tokens: readonly number[];
  /** A generated token, or the last chunk of the row's prompt: its logits give the row's next token. */
  readonly sample: boolean;
}

/**
 * The tokens of one batched step under continuous batching, as llama.cpp's server fills a batch:
 * every generating row's last token first (one each), then the prompting rows' next prompt chunks
 * in admission order, as many tokens as `budget` (the engine's batch size) leaves, so a long
 * prompt is evaluated across several steps while the other rows keep decoding. A prompting row
 * that gets no room this step is left out (it waits for the next one). Pure: the engine advances
 * `row.promptEvaluated` once its run succeeded.
 */
export function planStep<R extends SessionRow<SessionJob>>(rows: readonly R[], budget: number): StepPiece<R>[] {
  const generating = rows.filter((row) => !row.prompting);
  if (generating.length > budget)
    throw new Error(`internal: ${generating.length} generating rows do not fit in a step of ${budget} tokens`);
  const pieces: StepPiece<R>[] = generating.map((row) => ({
    row,
    position: row.job.promptTokens.length + row.generated.length - 1,
    tokens: [row.generated.at(-1)!],
    sample: true,
  }));
  let room = budget - pieces.length;
  for (const row of rows) {
    if (!row.prompting || room === 0) continue;
    const { promptTokens } = row.job;
    const end = Math.min(promptTokens.length, row.promptEvaluated + room);
    if (end <= row.promptEvaluated) continue;
    pieces.push({
      row,
      position: row.promptEvaluated,
      tokens: promptTokens.slice(row.promptEvaluated, end),
      sample: end === promptTokens.length,
    });
    room -= end - row.promptEvaluated;
  }
  return pieces;
}
