import {
  isCoreEmotion,
  loadLongFormPrompts,
  steeringFromWeights,
  type ChatMessage,
  type Emotion,
  type EmotionVector,
} from "@emosteer/core";
import { conditionKey, conditionWeights, isSteered, type ConditionSpec } from "./condition.js";
import type { EngineContext } from "./engine-context.js";
import { generateOptions } from "./execute-cell.js";
import type { LongSegment, LongTextKey } from "./store.js";

/** Turns of a multi-turn consistency dialogue. */
const LONG_TURNS = 4;

/**
 * Long-text consistency: for the first `longEmotions` grid emotions at α = `longAlpha`, and
 * unsteered for reference, one long answer per "long" prompt cut into `longWindow`-token windows,
 * and one dialogue of up to {@link LONG_TURNS} turns (`longWindow` tokens each) per "multi-turn"
 * prompt; every window and turn is judged.
 */
export async function runLongTexts(ctx: EngineContext, vectors: Map<Emotion, EmotionVector>): Promise<void> {
  const { options, store, backend, spec, progress, scorer } = ctx;
  const prompts = loadLongFormPrompts();
  const long = prompts.filter((p) => p.kind === "long").slice(0, options.longQueries);
  const dialogues = prompts.filter((p) => p.kind === "multi-turn").slice(0, options.longQueries);
  const emotions = ctx.emotions.filter((e) => vectors.has(e) && isCoreEmotion(e)).slice(0, options.longEmotions);
  const conditions: { spec: ConditionSpec; emotion: string; alpha: number }[] = [
    { spec: { method: "none" }, emotion: "-", alpha: 0 },
    ...emotions.map((emotion) => ({
      spec: { method: "ev", emotion, alpha: options.longAlpha } as ConditionSpec,
      emotion,
      alpha: options.longAlpha,
    })),
  ];
  const jobs: { key: LongTextKey; run: () => Promise<LongSegment[]>; emotion: string; alpha: number }[] = [];
  for (const c of conditions) {
    const steering = isSteered(c.spec) ? steeringFromWeights(vectors, conditionWeights(c.spec)) : null;
    const base = {
      model: spec.id,
      backend: backend.name,
      extraction: isSteered(c.spec) ? options.method : "-",
      corpus: isSteered(c.spec) ? options.corpus : "-",
      condition: conditionKey(c.spec),
      seed: options.seed,
      setupHash: ctx.setupHash,
    };
    for (const p of long) {
      jobs.push({
        key: { ...base, queryId: p.id, kind: "windows", maxTokens: options.longTokens },
        emotion: c.emotion,
        alpha: c.alpha,
        run: async () => {
          const g = await backend.generate(
            [{ role: "user", content: p.turns[0]! }],
            generateOptions(options, steering, ctx.signal, options.longTokens),
          );
          const segments: LongSegment[] = [];
          for (let i = 0; i < g.tokens.length; i += options.longWindow) {
            const text = await backend.detokenize(g.tokens.slice(i, i + options.longWindow));
            segments.push({ index: segments.length, text, judge: await scorer.judge(text) });
          }
          return segments;
        },
      });
    }
    for (const p of dialogues) {
      jobs.push({
        key: { ...base, queryId: p.id, kind: "turns", maxTokens: options.longWindow },
        emotion: c.emotion,
        alpha: c.alpha,
        run: async () => {
          const messages: ChatMessage[] = [];
          const segments: LongSegment[] = [];
          for (const turn of p.turns.slice(0, LONG_TURNS)) {
            messages.push({ role: "user", content: turn });
            const g = await backend.generate(messages, generateOptions(options, steering, ctx.signal, options.longWindow));
            messages.push({ role: "assistant", content: g.text });
            segments.push({ index: segments.length, text: g.text, judge: await scorer.judge(g.text) });
          }
          return segments;
        },
      });
    }
  }
  const todo: typeof jobs = [];
  for (const j of jobs) if (!(await store.hasLongText(j.key))) todo.push(j);
  if (todo.length === 0) return;
  progress.start(`${spec.id}/${backend.name} long texts`, jobs.length, jobs.length - todo.length);
  for (const job of todo) {
    ctx.signal?.throwIfAborted();
    const segments = await job.run();
    await store.putLongText({
      ...job.key,
      emotion: job.emotion,
      alpha: job.alpha,
      segments,
      runId: ctx.runId,
      judgeId: scorer.judgeIdentity.id,
    });
    progress.tick(`${job.key.condition} ${job.key.queryId} ${job.key.kind}`);
  }
  progress.finish();
}
