import { parseUserEmotion, type SteeringBackend, type UserEmotion } from "@emosteer/core";
import type { ModelSpec } from "@emosteer/models";
import { engineSetup, setupHash, type EngineSetup } from "./cell-identity.js";
import type { ConditionSpec } from "./condition.js";
import type { BenchOptions } from "./options.js";
import { readText, resolveEmotions } from "./plan.js";
import type { ProgressBar } from "./progress.js";
import { type BenchQuery, evaluationQueries } from "./queries.js";
import type { Scorer } from "./scorer.js";
import { assertSameSetup } from "./setup-guard.js";
import type { BenchStore, CellKey } from "./store.js";

/** One cell of the grid, ready to run: its key, how it is conditioned and its query. */
export interface PlannedCell {
  readonly key: CellKey;
  readonly spec: ConditionSpec;
  readonly query: BenchQuery;
}

/** Everything a cell, the latency pairs and the long texts of one open engine need. */
export interface EngineContext {
  readonly spec: ModelSpec;
  readonly backend: SteeringBackend;
  readonly setup: EngineSetup;
  readonly setupHash: string;
  readonly options: BenchOptions;
  readonly store: BenchStore;
  readonly progress: ProgressBar;
  readonly scorer: Scorer;
  readonly runId: string;
  readonly emotions: readonly string[];
  readonly userEmotions: readonly UserEmotion[];
  readonly queries: readonly BenchQuery[];
  readonly signal?: AbortSignal | undefined;
}

/** What a run's options name besides models and engines: its emotions and its evaluation queries. */
export type RunInputs = Pick<EngineContext, "emotions" | "userEmotions" | "queries">;

/**
 * The emotions (core ones and those `--emotion-file` defines) and the evaluation queries of
 * `options`: the same for every engine of a run, and for the planner and the workers of a
 * distributed one (whose options name no files).
 */
export function resolveRunInputs(options: BenchOptions): RunInputs {
  const userEmotions = options.emotionFiles.map((file) => parseUserEmotion(readText(file), file));
  return {
    emotions: resolveEmotions(options, userEmotions),
    userEmotions,
    queries: evaluationQueries({ count: options.queries, file: options.queryFile, set: options.querySet }),
  };
}

/**
 * The context of an engine just opened: its setup (what the cell key's setup hash names),
 * checked against the setups the database already holds for this model and engine.
 */
export async function openEngineContext(fields: Omit<EngineContext, "setup" | "setupHash">): Promise<EngineContext> {
  const setup = engineSetup(fields.backend, fields.options);
  await assertSameSetup(fields.store, fields.spec.id, fields.backend.name, setup);
  return { ...fields, setup, setupHash: setupHash(setup) };
}
