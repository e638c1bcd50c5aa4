import { readFileSync } from "node:fs";
import { CORE_EMOTIONS, isCoreEmotion, type UserEmotion } from "@emosteer/core";
import { BACKEND_NAMES, isBackendName } from "@emosteer/backends";
import { findModelSpec, MODEL_REGISTRY, type ModelSpec } from "@emosteer/models";
import { hashText } from "./cell-identity.js";
import { conditionKey, isSteered, type ConditionSpec } from "./condition.js";
import type { PlannedCell } from "./engine-context.js";
import { BenchUsageError, type BenchOptions, type ContrastCorpus } from "./options.js";
import type { BenchQuery } from "./queries.js";
import type { CellKey } from "./store.js";

/** What planning one engine's grid needs: no open engine (a distributed planner has none; the worker fills in the setup hash). */
export interface PlanContext {
  readonly model: string;
  readonly backend: string;
  readonly options: BenchOptions;
  readonly emotions: readonly string[];
  readonly queries: readonly BenchQuery[];
  /** The engine setup's hash ("" when planning without the engine). */
  readonly setupHash: string;
}

/**
 * The grid of one engine, ordered per query (unsteered first, then each steered condition) so
 * steered and unsteered decoding interleave. Single-emotion EV cells come once per corpus (core
 * emotions only beyond the primary corpus); unsteered, prompt and mix cells once.
 */
export function planCells(ctx: PlanContext, mix: Readonly<Record<string, number>> | null, steerable: boolean): PlannedCell[] {
  const { options } = ctx;
  const cells: PlannedCell[] = [];
  const key = (condition: ConditionSpec, query: BenchQuery, corpus: ContrastCorpus = options.corpus): CellKey => ({
    model: ctx.model,
    backend: ctx.backend,
    extraction: isSteered(condition) ? options.method : "-",
    corpus: isSteered(condition) ? corpus : "-",
    condition: conditionKey(condition),
    queryId: query.id,
    maxTokens: options.maxTokens,
    seed: options.seed,
    setupHash: ctx.setupHash,
    queryHash: hashText(query.text),
  });
  for (const query of ctx.queries) {
    const conditions: ConditionSpec[] = [{ method: "none" }];
    if (steerable) {
      for (const emotion of ctx.emotions)
        for (const alpha of options.alphas) if (alpha !== 0) conditions.push({ method: "ev", emotion, alpha });
    }
    if (options.baseline) for (const emotion of ctx.emotions) conditions.push({ method: "prompt", emotion });
    // After the prompt cells: their answers are the fidelity reference of these.
    if (options.baseline && steerable)
      for (const emotion of ctx.emotions) for (const alpha of options.suppress) conditions.push({ method: "prompt-ev", emotion, alpha });
    if (mix) conditions.push({ method: "mix", weights: mix });
    for (const condition of conditions) cells.push({ key: key(condition, query), spec: condition, query });
    if (steerable) {
      for (const corpus of options.corpora.filter((c) => c !== options.corpus)) {
        for (const emotion of ctx.emotions.filter(isCoreEmotion)) {
          for (const alpha of options.alphas) {
            if (alpha === 0) continue;
            const condition: ConditionSpec = { method: "ev", emotion, alpha };
            cells.push({ key: key(condition, query, corpus), spec: condition, query });
          }
        }
      }
    }
  }
  return cells;
}

/** The two-emotion mix of the options when every emotion in it is defined, else null (logged by the caller). */
export function resolveMix(options: BenchOptions, userEmotions: readonly UserEmotion[]): Readonly<Record<string, number>> | null {
  const mixEmotions = options.mix ? Object.keys(options.mix) : [];
  const known = new Set<string>([...CORE_EMOTIONS, ...userEmotions.map((u) => u.name)]);
  return options.mix && mixEmotions.every((e) => known.has(e)) ? options.mix : null;
}

/** A cell's grid coordinates without its engine setup: what a job names (the worker's engine supplies the setup). */
export function gridId(k: Omit<CellKey, "setupHash">): string {
  // JSON, not a NUL-joined string: job data is PostgreSQL jsonb, which cannot hold \u0000.
  return JSON.stringify([k.model, k.backend, k.extraction, k.corpus, k.condition, k.queryId, k.maxTokens, k.seed, k.queryHash]);
}

export function resolveEmotions(options: BenchOptions, userEmotions: readonly UserEmotion[]): string[] {
  const defined = new Set<string>([...CORE_EMOTIONS, ...userEmotions.map((u) => u.name)]);
  const emotions = options.emotions === "default" ? [...CORE_EMOTIONS, ...userEmotions.map((u) => u.name)] : [...options.emotions];
  for (const e of emotions)
    if (!defined.has(e))
      throw new BenchUsageError(`--emotions: "${e}" is not a core emotion (${CORE_EMOTIONS.join(", ")}) and no --emotion-file defines it.`);
  return [...new Set(emotions)];
}

export function resolveModels(options: BenchOptions): ModelSpec[] {
  if (options.models === "all") return [...MODEL_REGISTRY];
  return options.models.map((id) => {
    try {
      return findModelSpec(id);
    } catch (error) {
      throw new BenchUsageError(`--models: ${(error as Error).message}`);
    }
  });
}

export function resolveBackends(options: BenchOptions): string[] {
  if (options.backends === "all") return [...BACKEND_NAMES];
  for (const b of options.backends)
    if (!isBackendName(b)) throw new BenchUsageError(`--backends: unknown backend "${b}"; known: ${BACKEND_NAMES.join(", ")}.`);
  return [...options.backends];
}

export function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new BenchUsageError(`Cannot read --emotion-file ${path}: ${(error as Error).message}`);
  }
}
