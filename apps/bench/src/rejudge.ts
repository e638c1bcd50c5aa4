import type { ProgressBar } from "./progress.js";
import type { Scorer } from "./scorer.js";
import type { BenchStore, LongTextKey } from "./store.js";

export interface RejudgeResult {
  readonly judge: { readonly name: string; readonly id: string };
  /** Cells whose judgement by this judge was written. */
  readonly cells: number;
  /** Long texts whose segments were judged. */
  readonly longTexts: number;
}

/**
 * Scores every stored text with `scorer`'s judge and lexicon and stores the result as that
 * judge's rows (replacing only an earlier judgement by the same judge). Texts, timings,
 * perplexity, distinct-2 and fidelity are not touched: they do not depend on the judge.
 */
export async function rejudgeStore(store: BenchStore, scorer: Scorer, progress: ProgressBar): Promise<RejudgeResult> {
  const judge = scorer.judgeIdentity;
  const texts = await store.texts();
  progress.start(`judging ${texts.length} stored text(s) with ${judge.name} ${judge.id.slice(0, 12)}`, texts.length);
  for (const t of texts) {
    await store.putJudgement(t, {
      judgeId: judge.id,
      judgeName: judge.name,
      judge: await scorer.judge(t.text),
      lexicon: scorer.lexicon(t.text),
    });
    progress.tick(`${t.model}/${t.backend} ${t.condition} ${t.queryId}`);
  }
  progress.finish();
  // Every long text once, whatever judge scored it before: its segment texts are the same under each.
  const seen = new Set<string>();
  let longTexts = 0;
  for (const long of await store.longTexts()) {
    const { model, backend, extraction, corpus, condition, queryId, kind, maxTokens, seed, setupHash } = long;
    const key: LongTextKey = { model, backend, extraction, corpus, condition, queryId, kind, maxTokens, seed, setupHash };
    const id = JSON.stringify(key);
    if (seen.has(id)) continue;
    seen.add(id);
    const judges: Record<string, number>[] = [];
    for (const segment of long.segments) judges.push(await scorer.judge(segment.text));
    await store.putLongJudgement(key, judge.id, judges);
    longTexts++;
  }
  return { judge, cells: texts.length, longTexts };
}
