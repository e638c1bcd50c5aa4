/**
 * The verdicts on the paper's claims, as pure functions of one engine's aggregates (macro means
 * over the grid emotions at each α), so every branch can be checked on synthetic figures.
 */

/** The figures of one model/engine at one α (null: not measurable, e.g. no perplexity on this engine). */
export interface AlphaFigures {
  readonly eps: number | null;
  /** EAS: NRC hits of the target emotion per 100 words. */
  readonly eas: number | null;
  /** ΔEAS against α = 0, in percent. */
  readonly easDeltaPct: number | null;
  readonly distinct2: number | null;
  readonly perplexity: number | null;
  readonly fidelity: number | null;
}

/** One engine's figures by α (α = 0: the unsteered answers). */
export type EngineAggregates = ReadonlyMap<number, AlphaFigures>;

export type Verdict = "supported" | "partly supported" | "not supported" | "not measured";

export interface ClaimVerdict {
  readonly verdict: Verdict;
  /** The Markdown line of the report (without its number). */
  readonly line: string;
}

const f = (x: number | null | undefined, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(digits));
const pct = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? "–" : `${x >= 0 ? "+" : ""}${x.toFixed(0)} %`;
const bold = (v: Verdict) => `**${v}**`;

function verdictOf(supported: boolean, partly: boolean): Verdict {
  return supported ? "supported" : partly ? "partly supported" : "not supported";
}

/** The sentence saying the text at α degenerates (distinct-2 below 0.8× unsteered), or "". */
export function degeneration(a: EngineAggregates, alpha: number): string {
  const d = a.get(alpha)?.distinct2 ?? null;
  const d0 = a.get(0)?.distinct2 ?? null;
  return d !== null && d0 !== null && d < 0.8 * d0
    ? ` At α = ${alpha} the text degenerates (distinct-2 ${f(d)} vs ${f(d0)} unsteered).`
    : "";
}

/** A figure met only by degenerate text ("!!!!", one word repeated) is not the claim the paper makes: partly at most. */
function judged(a: EngineAggregates, met: boolean, partly: boolean, alpha: number): { verdict: Verdict; text: string } {
  const broken = degeneration(a, alpha);
  if (broken && met) return { verdict: "partly supported", text: `**partly supported**: the figure is met, but by broken text.${broken}` };
  const verdict = verdictOf(met, partly);
  return { verdict, text: `${bold(verdict)}.${broken}` };
}

/** Claim 1: 2×EV drives the emotion probability to ≈ 1 (supported at EPS@2 ≥ 0.9; partly at ≥ 0.5 and 0.2 above EPS@0). */
export function claimTwoAlphaSaturates(a: EngineAggregates): ClaimVerdict {
  const at2 = a.get(2);
  if (!at2) return { verdict: "not measured", line: "*2×EV → probability ≈ 1.0*: α = 2 not in this run." };
  const eps2 = at2.eps ?? 0;
  const eps0 = a.get(0)?.eps ?? null;
  const j = judged(a, eps2 >= 0.9, eps2 >= 0.5 && eps2 > (eps0 ?? 0) + 0.2, 2);
  return {
    verdict: j.verdict,
    line: `*2×EV drives the emotion probability to ≈ 1.0*: EPS@2 = ${f(at2.eps)} (EPS@0 = ${f(eps0)}). ${j.text}`,
  };
}

/** Claim 2: 1×EV raises EAS by ≥ 400 % (partly at ≥ 100 %). */
export function claimOneAlphaRaisesEas(a: EngineAggregates): ClaimVerdict {
  const at1 = a.get(1);
  if (!at1) return { verdict: "not measured", line: "*1×EV raises EAS ≥ 400 %*: α = 1 not in this run." };
  const d1 = at1.easDeltaPct ?? -Infinity;
  const j = judged(a, d1 >= 400, d1 >= 100, 1);
  return {
    verdict: j.verdict,
    line: `*1×EV raises EAS by ≥ 400 %*: ΔEAS@+1 = ${pct(at1.easDeltaPct)} (EAS@0 = ${f(a.get(0)?.eas)}, EAS@1 = ${f(at1.eas)} hits per 100 words). ${j.text}`,
  };
}

/** Claim 3: −1×EV cuts EAS by ~90 % (supported at ≤ −80 %, partly at ≤ −30 %). */
export function claimMinusOneCutsEas(a: EngineAggregates): ClaimVerdict {
  const atm1 = a.get(-1);
  if (!atm1) return { verdict: "not measured", line: "*−1×EV cuts EAS ~90 %*: α = −1 not in this run." };
  const d = atm1.easDeltaPct ?? Infinity;
  const j = judged(a, d <= -80, d <= -30, -1);
  return { verdict: j.verdict, line: `*−1×EV cuts EAS by ~90 %*: ΔEAS@−1 = ${pct(atm1.easDeltaPct)}. ${j.text}` };
}

/** Claim 4: 4×EV saturates (EPS@4 ≤ EPS@2 + 0.05) and hurts fluency (perplexity > 1.5× or distinct-2 < 0.8× of α = 0); one of the two: partly. */
export function claimFourAlphaHurts(a: EngineAggregates): ClaimVerdict {
  const at4 = a.get(4);
  const at2 = a.get(2);
  if (!at4 || !at2) return { verdict: "not measured", line: "*4× saturates and hurts fluency*: α = 2 and 4 not both in this run." };
  const at0 = a.get(0);
  const saturated = at4.eps !== null && at2.eps !== null && at4.eps <= at2.eps + 0.05;
  const ppl0 = at0?.perplexity ?? null;
  const d0 = at0?.distinct2 ?? null;
  const hurt =
    (at4.perplexity !== null && ppl0 !== null && at4.perplexity > 1.5 * ppl0) ||
    (at4.distinct2 !== null && d0 !== null && at4.distinct2 < 0.8 * d0);
  const verdict = verdictOf(saturated && hurt, saturated || hurt);
  return {
    verdict,
    line: `*4×EV saturates and hurts fluency*: EPS@4 = ${f(at4.eps)} vs EPS@2 = ${f(at2.eps)}; perplexity ${f(ppl0, 1)} → ${f(at4.perplexity, 1)}, distinct-2 ${f(d0)} → ${f(at4.distinct2)} (α 0 → 4). ${bold(verdict)}.`,
  };
}

/** Claim 5: meaning and fluency are kept at α ∈ {0.5, 1} (supported at fidelity ≥ 0.70 and perplexity ≤ 1.5×; partly at ≥ 0.50 and ≤ 2.5×). */
export function claimModerateKeepsMeaning(a: EngineAggregates): ClaimVerdict {
  const moderate = [0.5, 1].filter((x) => a.has(x));
  if (moderate.length === 0)
    return { verdict: "not measured", line: "*Meaning and fluency are otherwise kept (α ≤ 1)*: neither α = 0.5 nor α = 1 in this run." };
  const mean = (xs: readonly (number | null)[]) => {
    const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
    return v.length ? v.reduce((s, x) => s + x, 0) / v.length : null;
  };
  const fid = mean(moderate.map((x) => a.get(x)!.fidelity));
  const ppl = mean(moderate.map((x) => a.get(x)!.perplexity));
  const ppl0 = a.get(0)?.perplexity ?? null;
  const ratio = ppl !== null && ppl0 ? ppl / ppl0 : null;
  const verdict = verdictOf((fid ?? 0) >= 0.7 && (ratio ?? Infinity) <= 1.5, (fid ?? 0) >= 0.5 && (ratio ?? Infinity) <= 2.5);
  return {
    verdict,
    line: `*Meaning and fluency are otherwise kept (α ≤ 1)*: fidelity ${f(fid)} (cosine to the unsteered answer), perplexity ×${f(ratio)} of unsteered at α ∈ {${moderate.join(", ")}}. ${bold(verdict)} (thresholds: supported when fidelity ≥ 0.70 and perplexity ≤ 1.5× unsteered; partly when ≥ 0.50 and ≤ 2.5×).`,
  };
}

/** Finding 6: the α > 0 with the highest EPS whose text stays fluent (distinct-2 ≥ 0.8× unsteered), if any. */
export function strongestFluentAlpha(a: EngineAggregates): { readonly alpha: number | null; readonly line: string } {
  const eps0 = a.get(0)?.eps ?? null;
  const best = [...a.entries()]
    .filter(([alpha]) => alpha > 0 && !degeneration(a, alpha))
    .sort(([, x], [, y]) => (y.eps ?? 0) - (x.eps ?? 0))[0];
  if (!best)
    return {
      alpha: null,
      line: "*Where steering works on this model*: no α > 0 in this run keeps the text fluent (distinct-2 ≥ 0.8× unsteered).",
    };
  const [alpha, x] = best;
  return {
    alpha,
    line: `*Where steering works on this model*: the strongest α > 0 whose text stays fluent (distinct-2 ≥ 0.8× unsteered) is α = ${alpha}: EPS ${f(x.eps)} vs ${f(eps0)} unsteered, ΔEAS ${pct(x.easDeltaPct)}, fidelity ${f(x.fidelity)}.`,
  };
}

export const VERDICT_THRESHOLDS =
  "Verdict thresholds: claim 1 supported at EPS@2 ≥ 0.9 (partly ≥ 0.5 and 0.2 above EPS@0); claim 2 at ΔEAS@+1 ≥ 400 % (partly ≥ 100 %); claim 3 at ΔEAS@−1 ≤ −80 % (partly ≤ −30 %); claim 4 needs EPS@4 ≤ EPS@2 + 0.05 and perplexity > 1.5× or distinct-2 < 0.8× of α = 0 (one of the two: partly). A figure met only where the text degenerates (distinct-2 below 0.8× unsteered) counts as partly supported at most.";

/** The claims section of one engine: every verdict line, numbered as in the report. */
export function claimLines(a: EngineAggregates): string[] {
  const lines = [claimTwoAlphaSaturates(a), claimOneAlphaRaisesEas(a), claimMinusOneCutsEas(a), claimFourAlphaHurts(a)].map(
    (c, i) => `${i + 1}. ${c.line}`,
  );
  const five = claimModerateKeepsMeaning(a);
  if (five.verdict !== "not measured") lines.push(`5. ${five.line}`);
  lines.push(`6. ${strongestFluentAlpha(a).line}`);
  return lines;
}
