import { createHash } from "node:crypto";
import {
  type EmotionVector,
  type Injection,
  type SteeringBackend,
  type SteeringProfile,
  type SteeringSpec,
  UnsupportedCapabilityError,
} from "@emosteer/core";
import { distinct2, responsePerplexity } from "@emosteer/eval";
import { type CandidateWindow, type CandidateWindowOptions, candidateWindows } from "./candidates.js";
import {
  type CalibrationConstraints,
  type CandidatePoint,
  DEFAULT_CONSTRAINTS,
  type EvaluatedPoint,
  selectOperatingPoint,
  violations,
} from "./objective.js";
import { PointCache } from "./point-cache.js";
import type { CalibrationScorer } from "./scorer.js";

/** One extraction query with its neutral and emotional contrast answers (for the teacher-forced pre-score). */
export interface ContrastExample {
  readonly query: string;
  readonly neutral: string;
  readonly emotional: string;
}

export interface CalibrationProgress {
  readonly stage: "baseline" | "teacher-forced" | "generation";
  /** Units of this stage done and planned (generation: the budget, an upper bound). */
  readonly done: number;
  readonly total: number;
  readonly message: string;
}

export interface CalibrateOptions {
  readonly scorer: CalibrationScorer;
  /** The queries answered by generation to measure a point. Extraction-split queries only: never evaluation queries or the judge's data. */
  readonly queries: readonly string[];
  /** Name of the split `queries` come from, recorded in the profile. Defaults to `"extraction"`; `"evaluation"` is refused. */
  readonly split?: string;
  /** Contrast answers to the extraction queries, for the cheap pre-score. Without them, windows are ranked by discriminability alone. */
  readonly contrast?: readonly ContrastExample[];
  readonly windows?: CandidateWindowOptions;
  /** Defaults to both, `["net-shift", "per-layer"]`. */
  readonly injections?: readonly Injection[];
  /**
   * Intensities tried by generation, ascending. The α of a point is the intensity under
   * `"net-shift"` (where α = 1 is the contrast's own shift) and intensity / window width under
   * `"per-layer"` (whose additions pile up block after block, so the same total push needs α/width).
   * Defaults to 0.5, 1, 1.5, 2, 3, 4.
   */
  readonly intensities?: readonly number[];
  /** Intensity at which the teacher-forced pre-score ranks the windows. Defaults to 2. */
  readonly preIntensity?: number;
  /** (window, injection) pairs confirmed by generation, best pre-score first. Defaults to 3. */
  readonly confirm?: number;
  /** Most points measured by generation (cached points included). Defaults to confirm × intensities. */
  readonly budget?: number;
  readonly constraints?: Partial<CalibrationConstraints>;
  /**
   * Pairs whose teacher-forced perplexity ratio on the neutral answers exceeds this are dropped before
   * generation (fluency visibly broken already). Defaults to the perplexity constraint.
   */
  readonly preFilterPerplexityRatio?: number;
  /** Tokens per generated answer. Defaults to 48. */
  readonly maxTokens?: number;
  readonly seed?: number;
  /** Evaluated points; pass `PointCache.open(path)` to resume a stopped search. Defaults to in memory. */
  readonly cache?: PointCache;
  readonly onProgress?: (progress: CalibrationProgress) => void;
  readonly signal?: AbortSignal;
}

/** A (window, injection) pair with its teacher-forced pre-score. */
export interface PreselectedWindow {
  readonly layers: CandidateWindow["layers"];
  readonly windowScore: number;
  readonly injection: Injection;
  /** Mean gain in log p(emotional) − log p(neutral) per token over unsteered; null without contrast answers. */
  readonly preScore: number | null;
  /** Teacher-forced perplexity of the neutral answers, steered / unsteered; null without contrast answers. */
  readonly teacherForcedPerplexityRatio: number | null;
  /** Dropped by the fluency pre-filter. */
  readonly dropped: boolean;
}

export interface EvaluatedCandidate extends EvaluatedPoint {
  readonly violations: readonly string[];
  /** Read from the cache rather than measured in this run. */
  readonly cached: boolean;
}

export interface CalibrationCost {
  /** Teacher-forced scoring passes run (cached ones excluded). */
  readonly teacherForcedPasses: number;
  /** Generations run (cached ones excluded), unsteered baselines included. */
  readonly generations: number;
  /** Points measured by generation, cached ones included. */
  readonly evaluations: number;
  readonly cachedEvaluations: number;
  readonly seconds: number;
}

export interface CalibrationResult {
  readonly emotion: string;
  /** The operating point as a profile, or undefined when no measured point met every constraint. */
  readonly profile: SteeringProfile | undefined;
  readonly chosen: EvaluatedCandidate | undefined;
  readonly preselected: readonly PreselectedWindow[];
  readonly evaluated: readonly EvaluatedCandidate[];
  readonly constraints: CalibrationConstraints;
  /** The unsteered answers' figures on the searched queries (EPS for comparison; the ratios' denominators). */
  readonly unsteered: { readonly eps: number; readonly perplexity: number; readonly distinct2: number };
  readonly cost: CalibrationCost;
}

interface BaselineAnswer {
  readonly text: string;
  readonly perplexity: number | null;
  readonly distinct2: number;
}

/**
 * Finds the operating point of `vector` on `backend`'s model: the layer window, injection and α that
 * maximise the judge's EPS subject to the constraints (fidelity ≥ 0.6, perplexity ≤ 1.5× and
 * distinct-2 ≥ 0.9× unsteered by default), measured on extraction-split queries.
 *
 * 1. Candidate windows from the vector's per-layer discriminability (`candidateWindows`).
 * 2. Each (window, injection) is pre-scored teacher-forced: how much steering at the pre-intensity
 *    raises the log-probability of the emotional contrast answer over the neutral one, per token,
 *    relative to unsteered. Why this cheap score: it needs one scoring pass per answer (no token-by-
 *    token generation), it measures the behaviour we want (the model preferring the emotional way
 *    of saying the same content), and the same passes give the neutral answer's teacher-forced
 *    perplexity, a fluency proxy that drops windows which break the model before any generation.
 *    A judge score of teacher-forced text would not move (the text is fixed), and a projection onto
 *    the vector would only confirm that we added it.
 * 3. The best few pairs are confirmed by generation, intensities ascending, stopping a pair at its
 *    first constraint violation (a stronger push only hurts fluency and fidelity further).
 * 4. The feasible point with the highest EPS is the operating point (`selectOperatingPoint`).
 */
export async function calibrate(backend: SteeringBackend, vector: EmotionVector, options: CalibrateOptions): Promise<CalibrationResult> {
  const started = performance.now();
  const { scorer, queries, signal } = options;
  const split = options.split ?? "extraction";
  if (split === "evaluation")
    throw new RangeError(
      "calibration must not search on evaluation queries: pass extraction-split queries (they are held out to measure the result).",
    );
  if (queries.length === 0) throw new RangeError("calibrate needs at least one query to generate on.");
  if (!backend.capabilities.steering)
    throw new UnsupportedCapabilityError(backend.name, "calibrate (steer generation)", "use a backend with steering support.");
  if (!backend.capabilities.logProbs)
    throw new UnsupportedCapabilityError(backend.name, "calibrate (score perplexity)", "use a backend that scores continuations.");
  vector.assertCompatible(backend.model, { allowFingerprintMismatch: true });
  const constraints: CalibrationConstraints = { ...DEFAULT_CONSTRAINTS, ...options.constraints };
  const injections = options.injections ?? (["net-shift", "per-layer"] as const);
  const intensities = [...(options.intensities ?? [0.5, 1, 1.5, 2, 3, 4])].sort((a, b) => a - b);
  if (intensities.some((x) => !(Number.isFinite(x) && x > 0)))
    throw new RangeError(`intensities must be finite and above 0, got ${intensities.join(", ")}`);
  const confirm = options.confirm ?? 3;
  const budget = options.budget ?? confirm * intensities.length;
  const maxTokens = options.maxTokens ?? 48;
  const seed = options.seed ?? 0;
  const preIntensity = options.preIntensity ?? 2;
  const preFilter = options.preFilterPerplexityRatio ?? constraints.maxPerplexityRatio;
  const cache = options.cache ?? PointCache.inMemory();
  const progress = options.onProgress ?? (() => {});
  const cost = { teacherForcedPasses: 0, generations: 0, evaluations: 0, cachedEvaluations: 0 };
  const emotion = vector.emotion;

  // Everything a cached value depends on, so a changed vector, query set or judge never reuses it.
  const context = {
    model: backend.model.fingerprint,
    engine: backend.name,
    emotion,
    vector: vectorHash(vector),
    maxTokens,
    seed,
  };
  const generateOptions = (steering: SteeringSpec | null) => ({ maxTokens, temperature: 0, seed, steering, ...(signal ? { signal } : {}) });
  const spec = (p: CandidatePoint): SteeringSpec => ({ terms: [{ vector, alpha: p.alpha }], layers: p.layers, injection: p.injection });
  const alphaFor = (intensity: number, layers: CandidateWindow["layers"], injection: Injection) =>
    injection === "per-layer" ? intensity / (layers.to - layers.from + 1) : intensity;

  // 1. Unsteered answers: the reference for fidelity and the fluency ratios.
  const baseline: BaselineAnswer[] = [];
  for (const [i, query] of queries.entries()) {
    const key = PointCache.key({ kind: "baseline", model: context.model, engine: context.engine, maxTokens, seed, query });
    let answer = cache.get<BaselineAnswer>(key);
    if (!answer) {
      const text = (await backend.generate([{ role: "user", content: query }], generateOptions(null))).text;
      cost.generations++;
      answer = {
        text,
        perplexity: (await responsePerplexity(backend, { query, response: text, ...(signal ? { signal } : {}) })).perplexity,
        distinct2: distinct2(text),
      };
      cache.set(key, answer);
    }
    baseline.push(answer);
    progress({ stage: "baseline", done: i + 1, total: queries.length, message: "unsteered answers" });
  }
  const basePerplexity = mean(baseline.map((b) => b.perplexity));
  const baseDistinct2 = mean(baseline.map((b) => b.distinct2));
  const baseEps = mean(
    await scorer.emotionProbabilities(
      baseline.map((b) => b.text),
      emotion,
    ),
  );

  // 2. Candidate windows and the teacher-forced pre-score.
  const windows = candidateWindows(vector.layerScores, backend.model.layerCount, options.windows);
  const contrast = options.contrast ?? [];
  const meanLogProb = async (query: string, answer: string, steering: SteeringSpec | null): Promise<number> => {
    const prompt = backend.formatChat([{ role: "user", content: query }], { addGenerationPrompt: true });
    const score = await backend.scoreContinuation(prompt, answer, { steering, ...(signal ? { signal } : {}) });
    cost.teacherForcedPasses++;
    return score.logProbs.length === 0 ? 0 : score.total / score.logProbs.length;
  };
  const contrastHash = PointCache.key(contrast);
  const unsteeredLp: { emotional: number; neutral: number }[] = [];
  if (contrast.length > 0) {
    const key = PointCache.key({ kind: "teacher-forced-baseline", ...context, contrastHash });
    const known = cache.get<{ emotional: number; neutral: number }[]>(key);
    if (known) unsteeredLp.push(...known);
    else {
      for (const c of contrast)
        unsteeredLp.push({
          emotional: await meanLogProb(c.query, c.emotional, null),
          neutral: await meanLogProb(c.query, c.neutral, null),
        });
      cache.set(key, unsteeredLp);
    }
  }
  const pairs = windows.flatMap((w) => injections.map((injection) => ({ w, injection })));
  const preselected: PreselectedWindow[] = [];
  for (const [i, { w, injection }] of pairs.entries()) {
    signal?.throwIfAborted();
    let preScore: number | null = null;
    let tfRatio: number | null = null;
    if (contrast.length > 0) {
      const point: CandidatePoint = { layers: w.layers, injection, alpha: alphaFor(preIntensity, w.layers, injection) };
      const key = PointCache.key({ kind: "teacher-forced", ...context, contrastHash, ...point });
      let known = cache.get<{ preScore: number; tfRatio: number }>(key);
      if (!known) {
        let gain = 0;
        let neutralDrop = 0;
        for (const [k, c] of contrast.entries()) {
          const e = await meanLogProb(c.query, c.emotional, spec(point));
          const n = await meanLogProb(c.query, c.neutral, spec(point));
          const u = unsteeredLp[k]!;
          gain += e - n - (u.emotional - u.neutral);
          neutralDrop += u.neutral - n;
        }
        known = { preScore: gain / contrast.length, tfRatio: Math.exp(neutralDrop / contrast.length) };
        cache.set(key, known);
      }
      preScore = known.preScore;
      tfRatio = known.tfRatio;
    }
    preselected.push({
      layers: w.layers,
      windowScore: w.score,
      injection,
      preScore,
      teacherForcedPerplexityRatio: tfRatio,
      dropped: tfRatio !== null && !(tfRatio <= preFilter),
    });
    progress({ stage: "teacher-forced", done: i + 1, total: pairs.length, message: `${w.layers.from}..${w.layers.to} ${injection}` });
  }
  const ranked = preselected
    .filter((p) => !p.dropped)
    .sort(
      (a, b) =>
        (b.preScore ?? 0) - (a.preScore ?? 0) ||
        b.windowScore - a.windowScore ||
        injections.indexOf(a.injection) - injections.indexOf(b.injection),
    );

  // 3. Confirmation by generation.
  const evaluated: EvaluatedCandidate[] = [];
  const evaluate = async (point: CandidatePoint): Promise<EvaluatedCandidate> => {
    const key = PointCache.key({ kind: "point", ...context, judge: scorer.judgeId, queries: PointCache.key(queries), ...point });
    const known = cache.get<EvaluatedPoint>(key);
    if (known) {
      cost.cachedEvaluations++;
      return { ...known, violations: violations(known, constraints), cached: true };
    }
    const texts: string[] = [];
    const perplexities: (number | null)[] = [];
    for (const query of queries) {
      const text = (await backend.generate([{ role: "user", content: query }], generateOptions(spec(point)))).text;
      cost.generations++;
      texts.push(text);
      perplexities.push((await responsePerplexity(backend, { query, response: text, ...(signal ? { signal } : {}) })).perplexity);
    }
    const fidelities = await Promise.all(texts.map((t, i) => scorer.similarity(t, baseline[i]!.text)));
    const measured: EvaluatedPoint = {
      ...point,
      eps: mean(await scorer.emotionProbabilities(texts, emotion)),
      fidelity: mean(fidelities),
      perplexityRatio: mean(perplexities) / basePerplexity,
      distinct2Ratio: baseDistinct2 > 0 ? mean(texts.map(distinct2)) / baseDistinct2 : 1,
    };
    cache.set(key, measured);
    return { ...measured, violations: violations(measured, constraints), cached: false };
  };
  confirmation: for (const pair of ranked.slice(0, confirm)) {
    for (const intensity of intensities) {
      if (evaluated.length >= budget) break confirmation;
      signal?.throwIfAborted();
      const point = await evaluate({
        layers: pair.layers,
        injection: pair.injection,
        alpha: alphaFor(intensity, pair.layers, pair.injection),
      });
      evaluated.push(point);
      cost.evaluations++;
      progress({
        stage: "generation",
        done: evaluated.length,
        total: Math.min(budget, Math.min(confirm, ranked.length) * intensities.length),
        message: `${point.layers.from}..${point.layers.to} ${point.injection} α=${round(point.alpha)}: EPS ${round(point.eps)}${point.violations.length ? ` (breaks ${point.violations.join(", ")})` : ""}`,
      });
      if (point.violations.length > 0) break;
    }
  }

  // 4. The operating point.
  const chosen = selectOperatingPoint(evaluated, constraints) as EvaluatedCandidate | undefined;
  const profile: SteeringProfile | undefined = chosen && {
    layers: chosen.layers,
    injection: chosen.injection,
    alpha: chosen.alpha,
    judge: scorer.judgeId,
    objective: {
      eps: chosen.eps,
      fidelity: chosen.fidelity,
      perplexityRatio: chosen.perplexityRatio,
      distinct2Ratio: chosen.distinct2Ratio,
    },
    searchedOn: { split, queries: queries.length },
  };
  return {
    emotion,
    profile,
    chosen,
    preselected,
    evaluated,
    constraints,
    unsteered: { eps: baseEps, perplexity: basePerplexity, distinct2: baseDistinct2 },
    cost: { ...cost, seconds: (performance.now() - started) / 1000 },
  };
}

/** Mean of the finite values; NaN when there are none (so a point without scores breaks the constraints). */
function mean(values: readonly (number | null)[]): number {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return finite.length === 0 ? Number.NaN : finite.reduce((s, v) => s + v, 0) / finite.length;
}

function round(x: number): string {
  return (Math.round(x * 1000) / 1000).toString();
}

/** sha256 of the directions (16 hex digits): a re-extracted vector never reuses another's cached points. */
function vectorHash(vector: EmotionVector): string {
  const h = createHash("sha256");
  for (const d of vector.directions) h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  return h.digest("hex").slice(0, 16);
}
