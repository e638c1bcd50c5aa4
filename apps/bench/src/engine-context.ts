import type { SteeringBackend, UserEmotion } from "@emosteer/core";
import type { ModelSpec } from "@emosteer/models";
import { engineSetup, setupHash, type EngineSetup } from "./cell-identity.js";
import type { ConditionSpec } from "./condition.js";
import type { BenchOptions } from "./options.js";
import type { ProgressBar } from "./progress.js";
import type { BenchQuery } from "./queries.js";
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

/**
 * The context of an engine just opened: its setup (what the cell key's setup hash names),
 * checked against the setups the database already holds for this model and engine.
 */
export async function openEngineContext(fields: Omit<EngineContext, "setup" | "setupHash">): Promise<EngineContext> {
  const setup = engineSetup(fields.backend, fields.options);
  await assertSameSetup(fields.store, fields.spec.id, fields.backend.name, setup);
  return { ...fields, setup, setupHash: setupHash(setup) };
}
