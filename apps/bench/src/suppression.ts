import { deltaEasPercent } from "@emosteer/eval";
import { meanOf } from "./aggregate.js";
import type { CellRecord } from "./store.js";

/**
 * Suppression where there is something to suppress (issue 12): the emotion's conditioning system
 * prompt alone against the same prompt plus α·EV of that emotion, paired by query. A negative α
 * should cut the prompted emotion while keeping the prompt-only answer's meaning.
 */
export interface SuppressionRow {
  readonly model: string;
  readonly backend: string;
  readonly emotion: string;
  readonly alpha: number;
  /** Queries with both a prompt-only and a prompt + EV answer. */
  readonly n: number;
  /** EPS of the unsteered answers to the same queries (no prompt, no steering), for scale. */
  readonly eps_unsteered: number | null;
  readonly eps_prompt: number;
  readonly eps: number;
  /** 100 × (EPS − prompt-only EPS) / prompt-only EPS, with its 95 % bootstrap interval over queries. */
  readonly eps_change_pct: number | null;
  readonly eps_change_ci: [number, number] | null;
  readonly eas_prompt: number;
  readonly eas: number;
  readonly eas_change_pct: number | null;
  /** Mean MiniLM cosine of each answer to the prompt-only answer to the same query. */
  readonly fidelity_to_prompt: number | null;
  readonly perplexity: number | null;
  readonly perplexity_prompt: number | null;
  readonly distinct2: number | null;
}

/** The suppression rows of one model/backend's cells (in the run's scope). */
export function summarizeSuppression(cells: readonly CellRecord[], emotions: readonly string[]): SuppressionRow[] {
  const rows: SuppressionRow[] = [];
  const unsteered = new Map(cells.filter((c) => c.method === "none").map((c) => [c.queryId, c]));
  for (const emotion of emotions) {
    const prompted = new Map(cells.filter((c) => c.method === "prompt" && c.weights[emotion] !== undefined).map((c) => [c.queryId, c]));
    const steered = cells.filter((c) => c.method === "prompt-ev" && c.weights[emotion] !== undefined);
    const alphas = [...new Set(steered.map((c) => c.weights[emotion]!))].sort((a, b) => a - b);
    for (const alpha of alphas) {
      const pairs = steered
        .filter((c) => c.weights[emotion] === alpha && prompted.has(c.queryId))
        .sort((a, b) => (a.queryId < b.queryId ? -1 : a.queryId > b.queryId ? 1 : 0))
        .map((c) => ({ steered: c, prompt: prompted.get(c.queryId)! }));
      if (pairs.length === 0) continue;
      const epsOf = (c: CellRecord) => c.judge[emotion] ?? 0;
      const easOf = (c: CellRecord) => c.lexicon[emotion] ?? 0;
      const epsChange = deltaEasPercent(
        pairs.map((p) => epsOf(p.steered)),
        pairs.map((p) => epsOf(p.prompt)),
      );
      const easChange = deltaEasPercent(
        pairs.map((p) => easOf(p.steered)),
        pairs.map((p) => easOf(p.prompt)),
      );
      const plain = pairs.map((p) => unsteered.get(p.steered.queryId)).filter((c): c is CellRecord => c !== undefined);
      rows.push({
        model: pairs[0]!.steered.model,
        backend: pairs[0]!.steered.backend,
        emotion,
        alpha,
        n: pairs.length,
        eps_unsteered: plain.length === pairs.length ? meanOf(plain.map(epsOf)) : null,
        eps_prompt: meanOf(pairs.map((p) => epsOf(p.prompt)))!,
        eps: meanOf(pairs.map((p) => epsOf(p.steered)))!,
        eps_change_pct: epsChange.percent,
        eps_change_ci: epsChange.low !== null && epsChange.high !== null ? [epsChange.low, epsChange.high] : null,
        eas_prompt: meanOf(pairs.map((p) => easOf(p.prompt)))!,
        eas: meanOf(pairs.map((p) => easOf(p.steered)))!,
        eas_change_pct: easChange.percent,
        fidelity_to_prompt: meanOf(pairs.map((p) => p.steered.fidelity)),
        perplexity: meanOf(pairs.map((p) => p.steered.perplexity)),
        perplexity_prompt: meanOf(pairs.map((p) => p.prompt.perplexity)),
        distinct2: meanOf(pairs.map((p) => p.steered.distinct2)),
      });
    }
  }
  return rows;
}
