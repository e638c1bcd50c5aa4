import { dirname } from "node:path";
import {
  isCoreEmotion,
  loadSystemPrompts,
  steeringFromWeights,
  type ChatMessage,
  type Emotion,
  type EmotionVector,
  type SteeringSpec,
  type UserEmotion,
} from "@emosteer/core";
import { cachedEmotionVectors } from "@emosteer/core/node";
import { distinct2, responsePerplexity } from "@emosteer/eval";
import { conditionKey, conditionWeights, isPrompted, isSteered, methodOf } from "./condition.js";
import type { EngineContext, PlannedCell } from "./engine-context.js";
import type { BenchOptions, ContrastCorpus } from "./options.js";
import type { CellRecord } from "./store.js";
import { benchVectorSource } from "./vectors.js";

/**
 * One open engine's vectors (extracted or loaded once per corpus) and the generation and scoring
 * of one cell. Both the single-process run and a distributed worker execute cells through this.
 */
export class EngineSession {
  readonly ctx: EngineContext;
  readonly mix: Readonly<Record<string, number>> | null;
  readonly #vectors = new Map<ContrastCorpus, Map<Emotion, EmotionVector>>();

  constructor(ctx: EngineContext, mix: Readonly<Record<string, number>> | null) {
    this.ctx = ctx;
    this.mix = mix;
  }

  /** The vectors of `corpus`; the primary corpus also covers the mix, the others only the core grid emotions (user emotions do not depend on the corpus). */
  async vectors(corpus: ContrastCorpus = this.ctx.options.corpus): Promise<Map<Emotion, EmotionVector>> {
    const known = this.#vectors.get(corpus);
    if (known) return known;
    const { backend, options, progress, store, spec } = this.ctx;
    const label = `${spec.id}/${backend.name}`;
    const mixEmotions = this.mix ? Object.keys(this.mix) : [];
    const writes: Promise<void>[] = [];
    const wanted =
      corpus === options.corpus ? [...new Set([...this.ctx.emotions, ...mixEmotions])] : this.ctx.emotions.filter(isCoreEmotion);
    const vectors = await cachedEmotionVectors(backend, {
      emotions: wanted,
      userEmotions: this.ctx.userEmotions,
      ...benchVectorSource(options, corpus),
      onCacheHit: (batch) => progress.log(`  loaded cached vectors ${batch.emotions.join(", ")} from ${dirname(batch.paths[0]!)}`),
      onProgress: (p) => {
        if (p.done === 1) progress.start(`${label} extracting ${p.emotions.join(",")} (${corpus} corpus)`, p.total);
        progress.tick(p.phase);
      },
      onExtracted: (batch) => {
        progress.finish();
        progress.log(
          `  extracted ${batch.emotions.join(",")} from ${batch.queries} pairs (${corpus} corpus) in ${batch.seconds.toFixed(1)} s`,
        );
        for (const emotion of batch.emotions) {
          writes.push(
            store.putExtraction({
              model: spec.id,
              backend: backend.name,
              extraction: options.method,
              corpus: isCoreEmotion(emotion) ? corpus : "user",
              corpusHash: batch.corpusHash,
              emotion,
              seconds: batch.seconds,
              queries: batch.queries,
              vectorPath: batch.paths.find((p) => p.endsWith(`/${emotion}.gguf`)) ?? "",
              createdAt: new Date().toISOString(),
            }),
          );
        }
      },
      ...(this.ctx.signal ? { signal: this.ctx.signal } : {}),
    });
    await Promise.all(writes);
    this.#vectors.set(corpus, vectors);
    return vectors;
  }

  async steeringFor(cell: PlannedCell): Promise<SteeringSpec | null> {
    return isSteered(cell.spec)
      ? steeringFromWeights(await this.vectors(cell.key.corpus as ContrastCorpus), conditionWeights(cell.spec))
      : null;
  }

  /**
   * Generates and scores one cell (not stored: the caller stores it, with its job's completion
   * when there is one). `reference` is the unsteered text of the same query, for fidelity.
   */
  async execute(cell: PlannedCell, reference: string | undefined): Promise<CellRecord> {
    const { backend, options, scorer, signal } = this.ctx;
    signal?.throwIfAborted();
    const generation = await backend.generate(
      messagesFor(cell, this.ctx.userEmotions),
      generateOptions(options, await this.steeringFor(cell), signal),
    );
    const text = generation.text;
    // Steering under the prompt is compared with the prompt-only answer (planned, and so stored, before it).
    const fidelityReference =
      cell.spec.method === "prompt-ev"
        ? (
            await this.ctx.store.getCell({
              ...cell.key,
              extraction: "-",
              corpus: "-",
              condition: conditionKey({ method: "prompt", emotion: cell.spec.emotion }),
            })
          )?.text
        : reference;
    // Fluency: perplexity of the answer under the unsteered model, given the plain user query.
    const perplexity = backend.capabilities.logProbs
      ? (await responsePerplexity(backend, { query: cell.query.text, response: text, ...(signal ? { signal } : {}) })).perplexity
      : null;
    const judge = scorer.judgeIdentity;
    return {
      ...cell.key,
      method: methodOf(cell.spec),
      weights: conditionWeights(cell.spec),
      query: cell.query.text,
      text,
      generatedTokens: generation.timings.generatedTokens,
      finishReason: generation.finishReason,
      promptTokens: generation.timings.promptTokens,
      promptMs: generation.timings.promptMs,
      decodeMs: generation.timings.decodeMs,
      firstTokenMs: generation.timings.firstTokenMs,
      judgeId: judge.id,
      judgeName: judge.name,
      judge: await scorer.judge(text),
      lexicon: scorer.lexicon(text),
      perplexity,
      distinct2: distinct2(text),
      fidelity: cell.spec.method === "none" ? 1 : fidelityReference === undefined ? null : scorer.similarity(text, fidelityReference),
      runId: this.ctx.runId,
      createdAt: new Date().toISOString(),
    };
  }
}

/** The messages of a cell: the user query, after the conditioning system prompt for prompt cells. */
export function messagesFor(cell: PlannedCell, userEmotions: readonly UserEmotion[]): ChatMessage[] {
  const user: ChatMessage = { role: "user", content: cell.query.text };
  if (!isPrompted(cell.spec)) return [user];
  return [{ role: "system", content: conditioningPrompt(cell.spec.emotion, userEmotions) }, user];
}

function conditioningPrompt(emotion: string, userEmotions: readonly UserEmotion[]): string {
  if (isCoreEmotion(emotion)) return loadSystemPrompts().emotions[emotion];
  const definition = userEmotions.find((u) => u.name === emotion);
  if (!definition) throw new Error(`No conditioning prompt for "${emotion}": define it in an --emotion-file.`);
  return definition.conditioningPrompt;
}

export function generateOptions(
  options: BenchOptions,
  steering: SteeringSpec | null,
  signal: AbortSignal | undefined,
  maxTokens = options.maxTokens,
) {
  return { maxTokens, temperature: options.temperature, seed: options.seed, steering, ...(signal ? { signal } : {}) };
}
