import type { LayerRange } from "@emosteer/core";

export interface CandidateWindowOptions {
  /**
   * Window widths (numbers of blocks) to consider. Defaults to about 10 %, 20 %, 35 % and 50 % of
   * the steerable blocks: the literature finds emotion most linearly accessible in a band around
   * the middle of the network, so narrow-to-half windows cover it without the full stack.
   */
  readonly widths?: readonly number[];
  /** Also offer each best window shifted one block down and up. Defaults to true. */
  readonly neighbours?: boolean;
}

/** A candidate layer window and the mean per-layer discriminability it covers. */
export interface CandidateWindow {
  readonly layers: LayerRange;
  /** Mean `layerScores` over the window (or closeness to mid-depth when the vector has none). */
  readonly score: number;
}

/**
 * Contiguous windows of steerable blocks (1..layerCount-1) to measure: for each width, the window
 * with the highest mean per-layer discriminability (the vector's `layerScores`, the Fisher ratio of
 * the contrast at each layer), plus its neighbours one block either side. Without scores, layers are
 * scored by closeness to 50 % depth (arXiv 2604.04064's inverted U). Sorted by score, best first.
 */
export function candidateWindows(
  layerScores: ArrayLike<number> | undefined,
  layerCount: number,
  options: CandidateWindowOptions = {},
): CandidateWindow[] {
  const last = layerCount - 1;
  if (last < 1) throw new RangeError(`a model with ${layerCount} layers has no steerable block (block 0 is never steered)`);
  const score = (l: number) => (layerScores ? layerScores[l]! : 1 - Math.abs(l / layerCount - 0.5));
  const widths = [
    ...new Set(
      (options.widths ?? [0.1, 0.2, 0.35, 0.5].map((f) => Math.round(f * last))).map((w) => Math.min(last, Math.max(1, Math.round(w)))),
    ),
  ];
  const mean = (from: number, to: number) => {
    let s = 0;
    for (let l = from; l <= to; l++) s += score(l);
    return s / (to - from + 1);
  };
  const found = new Map<string, CandidateWindow>();
  const add = (from: number, to: number) => {
    if (from < 1 || to > last) return;
    const key = `${from}-${to}`;
    if (!found.has(key)) found.set(key, { layers: { from, to }, score: mean(from, to) });
  };
  for (const width of widths) {
    let best = 1;
    for (let from = 2; from + width - 1 <= last; from++) if (mean(from, from + width - 1) > mean(best, best + width - 1)) best = from;
    add(best, best + width - 1);
    if (options.neighbours ?? true) {
      add(best - 1, best + width - 2);
      add(best + 1, best + width);
    }
  }
  return [...found.values()].sort((a, b) => b.score - a.score || a.layers.from - b.layers.from || a.layers.to - b.layers.to);
}
