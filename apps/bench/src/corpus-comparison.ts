import { cosineSimilarity, type EmotionVector } from "@emosteer/core";
import { loadVectorFile } from "@emosteer/core/node";
import { meanOf, summarize } from "./aggregate.js";
import type { CellRecord, ExtractionRecord } from "./store.js";

/** One corpus of a model/backend whose run steered with several corpora. */
export interface CorpusComparisonRow {
  readonly corpus: string;
  /** The run's first corpus: the one the main table, plots and claims use. */
  readonly primary: boolean;
  /** Evaluation queries per steered emotion and α (the smallest count, so a half-finished grid shows). */
  readonly n: number;
  /** EPS and hit rate per α, each the macro average over the compared emotions (α = 0: the shared unsteered answers). */
  readonly by_alpha: readonly { readonly alpha: number; readonly eps: number | null; readonly hit_rate: number | null }[];
  readonly eas_delta_pct_plus1: number | null;
  readonly eas_delta_pct_minus1: number | null;
  readonly fidelity_at_1: number | null;
  readonly perplexity_at_1: number | null;
  /** Seconds of the latest recorded extraction of this corpus's core vectors; null when none is recorded (vectors loaded from an earlier cache). */
  readonly extraction_seconds: number | null;
  /** Contrast pairs of that extraction. */
  readonly extraction_queries: number | null;
}

/** Cosine similarity of one emotion's vectors from the first two corpora. */
export interface VectorCosine {
  readonly emotion: string;
  /** The middle layer, ⌊L / 2⌋. */
  readonly layer: number;
  readonly cosine_at_layer: number;
  /** Mean of the per-layer cosines over the steered layers 1..L−1 (layer 0 is all zeros). */
  readonly cosine_mean_over_layers: number | null;
}

/** Vectors from different contrast corpora, same queries, same judge. */
export interface CorpusComparison {
  readonly model: string;
  readonly backend: string;
  readonly method: string;
  readonly corpora: readonly string[];
  /** Emotions steered with every corpus; the macro averages are over these. */
  readonly emotions: readonly string[];
  readonly rows: readonly CorpusComparisonRow[];
  /** Per emotion, between `corpora[0]` and `corpora[1]`; null when the vector files could not be read (see `cosine_note`). */
  readonly cosines: readonly VectorCosine[] | null;
  readonly cosine_note: string | null;
}

export interface CorpusComparisonInput {
  readonly model: string;
  readonly backend: string;
  readonly method: string;
  readonly emotions: readonly string[];
  readonly alphas: readonly number[];
  /** Corpora, primary first. */
  readonly corpora: readonly string[];
  /** Per corpus: the unsteered cells plus that corpus's single-emotion EV cells, all in the run's scope. */
  readonly cells: ReadonlyMap<string, readonly CellRecord[]>;
  /** Extraction records of this model/backend (any method or corpus; the right ones are picked here). */
  readonly extractions: readonly ExtractionRecord[];
}

/**
 * Compares the corpora of one model/backend on the emotions steered with all of them: the same
 * metrics as the main table, computed from each corpus's own EV cells against the shared
 * unsteered cells, plus the extraction time and the cosine between the two vector sets.
 */
export async function compareCorpora(input: CorpusComparisonInput): Promise<CorpusComparison> {
  const steeredWith = (corpus: string) =>
    new Set((input.cells.get(corpus) ?? []).filter((c) => c.method === "ev").flatMap((c) => Object.keys(c.weights)));
  const perCorpus = input.corpora.map(steeredWith);
  const emotions = input.emotions.filter((e) => perCorpus.every((set) => set.has(e)));
  const rows = input.corpora.map((corpus, index): CorpusComparisonRow => {
    const summary = summarize(input.cells.get(corpus) ?? [], { emotions, alphas: input.alphas, family: () => "" }).filter(
      (r) => r.method === "ev",
    );
    const at = (alpha: number, pick: (r: (typeof summary)[number]) => number | null) =>
      meanOf(summary.filter((r) => r.alpha === alpha).map(pick));
    const steered = summary.filter((r) => r.alpha !== 0);
    const extraction = latestExtractions(input.extractions, input.method, corpus, emotions)[0];
    return {
      corpus,
      primary: index === 0,
      n: steered.length ? Math.min(...steered.map((r) => r.n)) : 0,
      by_alpha: input.alphas.map((alpha) => ({ alpha, eps: at(alpha, (r) => r.eps), hit_rate: at(alpha, (r) => r.hit_rate) })),
      eas_delta_pct_plus1: at(1, (r) => r.eas_delta_pct),
      eas_delta_pct_minus1: at(-1, (r) => r.eas_delta_pct),
      fidelity_at_1: at(1, (r) => r.fidelity),
      perplexity_at_1: at(1, (r) => r.perplexity),
      extraction_seconds: extraction?.seconds ?? null,
      extraction_queries: extraction?.queries ?? null,
    };
  });
  const { cosines, note } = await vectorCosines(input, emotions);
  return {
    model: input.model,
    backend: input.backend,
    method: input.method,
    corpora: input.corpora,
    emotions,
    rows,
    cosines,
    cosine_note: note,
  };
}

/** Per emotion, the latest extraction record of `method` on `corpus` (emotions without one are left out). */
function latestExtractions(
  records: readonly ExtractionRecord[],
  method: string,
  corpus: string,
  emotions: readonly string[],
): ExtractionRecord[] {
  const out: ExtractionRecord[] = [];
  for (const emotion of emotions) {
    const latest = records
      .filter((r) => r.extraction === method && r.corpus === corpus && r.emotion === emotion)
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))[0];
    if (latest) out.push(latest);
  }
  return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
}

async function vectorCosines(
  input: CorpusComparisonInput,
  emotions: readonly string[],
): Promise<{ cosines: VectorCosine[] | null; note: string | null }> {
  const [first, second] = input.corpora;
  if (first === undefined || second === undefined) return { cosines: null, note: "only one corpus" };
  if (emotions.length === 0) return { cosines: null, note: "no emotion was steered with both corpora" };
  const cosines: VectorCosine[] = [];
  for (const emotion of emotions) {
    const files: EmotionVector[] = [];
    for (const corpus of [first, second]) {
      const record = latestExtractions(input.extractions, input.method, corpus, [emotion])[0];
      if (!record?.vectorPath)
        return {
          cosines: null,
          note: `no vector file of ${emotion} (${corpus} corpus) is recorded in the extraction table (the vectors came from the cache of a run not in this database)`,
        };
      try {
        files.push(await loadVectorFile(record.vectorPath));
      } catch (error) {
        return {
          cosines: null,
          note: `cannot read the vector file of ${emotion} (${corpus} corpus): ${(error as Error).message.split("\n")[0]}`,
        };
      }
    }
    const [a, b] = files as [EmotionVector, EmotionVector];
    if (a.layerCount !== b.layerCount || a.hiddenSize !== b.hiddenSize) {
      return {
        cosines: null,
        note: `the ${emotion} vector files have different shapes (${a.layerCount}×${a.hiddenSize} vs ${b.layerCount}×${b.hiddenSize})`,
      };
    }
    const layer = Math.floor(a.layerCount / 2);
    const perLayer = a.directions.slice(1).map((d, i) => cosineSimilarity(d, b.directions[i + 1]!));
    cosines.push({
      emotion,
      layer,
      cosine_at_layer: cosineSimilarity(a.directions[layer]!, b.directions[layer]!),
      cosine_mean_over_layers: meanOf(perLayer),
    });
  }
  return { cosines, note: null };
}
