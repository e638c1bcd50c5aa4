import { describe, expect, it } from "vitest";
import {
  type ContrastSamples,
  type ExtractionMethod,
  type ResidualCapture,
  InsufficientSamplesError,
  cosineSimilarity,
  emotionVectorFromSamples,
  extractDirection,
  fisherDirection,
  fisherRatio,
  l2Norm,
  meanDifference,
  pcaDirection,
  poolResiduals,
  poolingFor,
  projection,
} from "../src/index.js";
import { gaussian, randomVector, unit } from "./synthetic.js";

/**
 * Token-level captures of `pairs` queries: every token = query offset (shared by the pair) +
 * token noise, and the emotional response adds `amplitude × planted` to every token.
 */
function plantedCaptures(options: {
  pairs: number;
  d: number;
  tokens: number;
  planted: Float32Array;
  seed: number;
  noise?: number;
  queryScale?: number;
}) {
  const next = gaussian(options.seed);
  const { d, tokens, planted } = options;
  const capture = (offset: Float32Array, shift: number): ResidualCapture => {
    const data = new Float32Array(tokens * d);
    for (let p = 0; p < tokens; p++)
      for (let i = 0; i < d; i++) data[p * d + i] = offset[i]! + shift * planted[i]! + next() * (options.noise ?? 0.3);
    return { layers: [1], positions: tokens, hiddenSize: d, data: [data] };
  };
  return Array.from({ length: options.pairs }, () => {
    const query = randomVector(next, d, options.queryScale ?? 1);
    const amplitude = 0.8 + 0.4 * ((next() + 3) / 6);
    return { emotional: capture(query, amplitude), neutral: capture(query, 0) };
  });
}

function pooledSamples(captures: ReturnType<typeof plantedCaptures>, method: ExtractionMethod): ContrastSamples {
  const pooling = poolingFor(method);
  return {
    emotional: captures.map((c) => poolResiduals(c.emotional, pooling)[0]!),
    neutral: captures.map((c) => poolResiduals(c.neutral, pooling)[0]!),
  };
}

const d = 32;
const planted = Float32Array.from(unit(randomVector(gaussian(7), d)), (x) => 2 * x);
const captures = plantedCaptures({ pairs: 3000, d, tokens: 4, planted, seed: 11 });

describe("extraction methods recover a planted direction", () => {
  for (const method of ["mean-diff", "last-token", "pca", "fisher"] as const) {
    it(`${method}: cosine ≥ 0.99 with the planted direction, magnitude like the mean difference`, () => {
      const samples = pooledSamples(captures, method);
      const direction = extractDirection(method, samples);
      const cosine = cosineSimilarity(direction, planted);
      expect(cosine).toBeGreaterThanOrEqual(0.99);
      // The planted amplitude averages 1, so every method's vector has norm ≈ |planted| = 2.
      expect(l2Norm(direction)).toBeGreaterThan(1.8);
      expect(l2Norm(direction)).toBeLessThan(2.2);
    });
  }

  it("mean-diff is exactly the mean over pairs of emotional − neutral", () => {
    const samples: ContrastSamples = {
      emotional: [Float32Array.of(1, 2), Float32Array.of(3, 8)],
      neutral: [Float32Array.of(0, 1), Float32Array.of(1, 1)],
    };
    expect([...meanDifference(samples)]).toEqual([1.5, 4]);
  });

  it.each([
    [50, "DᵀD"],
    [20, "Gram matrix"],
  ])(
    "pca (%i pairs in 32 dims, %s path) is the top eigenvector of the pair differences, sign-aligned and scaled to the mean difference's projection",
    (pairs) => {
      const samples = pooledSamples(captures.slice(0, pairs), "pca");
      const flipped: ContrastSamples = { emotional: samples.neutral, neutral: samples.emotional };
      const direction = pcaDirection(samples);
      const differences = samples.emotional.map((e, i) => e.map((x, k) => x - samples.neutral[i]![k]!));
      // DᵀD u is parallel to u.
      const dtdu = new Float64Array(d);
      for (const diff of differences) {
        const along = diff.reduce((s, x, k) => s + x * direction[k]!, 0);
        diff.forEach((x, k) => {
          dtdu[k]! += along * x;
        });
      }
      expect(cosineSimilarity(dtdu, direction)).toBeGreaterThan(1 - 1e-9);
      // ...and the top one: no probe direction has a larger Rayleigh quotient |Dv|²/|v|².
      const rayleigh = (v: ArrayLike<number>) => differences.reduce((s, diff) => s + projection(diff, v) ** 2, 0);
      for (const probe of [
        ...differences,
        ...Array.from({ length: d }, (_, k) => Float32Array.from({ length: d }, (_, i) => (i === k ? 1 : 0))),
      ]) {
        expect(rayleigh(direction)).toBeGreaterThanOrEqual(rayleigh(probe) * (1 - 1e-9));
      }
      const meanDiff = meanDifference(samples);
      expect(projection(meanDiff, direction)).toBeGreaterThan(0);
      expect(l2Norm(direction)).toBeCloseTo(projection(meanDiff, direction), 5);
      // Swapping the classes flips the sign and nothing else.
      const opposite = pcaDirection(flipped);
      opposite.forEach((x, i) => {
        expect(x).toBeCloseTo(-direction[i]!, 5);
      });
    },
  );

  for (const [label, pairs, width] of [
    ["direct d×d solve (more samples than dims)", 40, 16],
    ["Woodbury m×m solve (fewer samples than dims)", 10, 64],
  ] as const) {
    it(`fisher solves ((1-γ)S_w + γ·tr(S_w)/d·I) w ∝ μe − μn: ${label}`, () => {
      const vector = Float32Array.from(unit(randomVector(gaussian(3), width)));
      const samples = pooledSamples(plantedCaptures({ pairs, d: width, tokens: 2, planted: vector, seed: 5, noise: 0.5 }), "fisher");
      const shrinkage = 0.25;
      const w = fisherDirection(samples, shrinkage);
      const rows = [samples.emotional, samples.neutral].flatMap((cls) => {
        const mean = cls[0]!.map((_, i) => cls.reduce((s, v) => s + v[i]!, 0) / cls.length);
        return cls.map((v) => Array.from(v, (x, i) => x - mean[i]!));
      });
      const m = rows.length;
      const nu = rows.reduce((s, r) => s + r.reduce((t, x) => t + x * x, 0), 0) / (m * width);
      // A·w computed from the definition, with S_w = XᵀX / m.
      const aw = Array.from({ length: width }, (_, i) => {
        let s = 0;
        for (const r of rows) s += r[i]! * r.reduce((t, x, k) => t + x * w[k]!, 0);
        return ((1 - shrinkage) * s) / m + shrinkage * nu * w[i]!;
      });
      const delta = meanDifference(samples);
      expect(cosineSimilarity(aw, delta)).toBeGreaterThan(1 - 1e-6);
      expect(l2Norm(w)).toBeCloseTo(projection(delta, w), 4);
    });
  }

  it("fisher with shrinkage 1 is the mean difference", () => {
    const samples = pooledSamples(captures.slice(0, 20), "fisher");
    const w = fisherDirection(samples, 1);
    const meanDiff = meanDifference(samples);
    expect(cosineSimilarity(w, meanDiff)).toBeGreaterThan(1 - 1e-9);
  });

  it("names what is missing: too few pairs, unpaired samples, singular covariance", () => {
    const one: ContrastSamples = { emotional: [Float32Array.of(1, 2)], neutral: [Float32Array.of(0, 0)] };
    expect(() => extractDirection("fisher", one)).toThrow(InsufficientSamplesError);
    expect(() => extractDirection("mean-diff", { emotional: one.emotional, neutral: [] })).toThrow(/paired/);
    const fewer = pooledSamples(captures.slice(0, 4), "fisher");
    expect(() => fisherDirection(fewer, 0)).toThrow(/singular .* shrinkage above 0/);
  });
});

describe("fisherRatio", () => {
  it("is (m_e − m_n)² / (s_e² + s_n²) of the projections", () => {
    const samples: ContrastSamples = {
      emotional: [Float32Array.of(3, 7), Float32Array.of(5, -2)],
      neutral: [Float32Array.of(0, 1), Float32Array.of(2, 0)],
    };
    // Projections on x: e = 3, 5 (mean 4, var 1); n = 0, 2 (mean 1, var 1) → 9 / 2.
    expect(fisherRatio(samples, Float32Array.of(2, 0))).toBe(4.5);
  });

  it("ranks the layer with the planted contrast first", () => {
    const layerCount = 6;
    const strong = 3;
    const perLayer = Array.from({ length: layerCount }, (_, layer) =>
      pooledSamples(
        plantedCaptures({
          pairs: 60,
          d: 16,
          tokens: 3,
          planted: Float32Array.from(unit(randomVector(gaussian(layer + 100), 16)), (x) => (layer === strong ? 1.5 : 0.15) * x),
          seed: layer,
        }),
        "mean-diff",
      ),
    );
    const model = { architecture: "toy", name: "toy", layerCount, hiddenSize: 16, fingerprint: "0123456789abcdef" };
    const vector = emotionVectorFromSamples({
      emotion: "joy",
      model,
      method: "mean-diff",
      layers: perLayer,
      corpus: "synthetic",
      corpusHash: "x",
      backend: "test",
    });
    const scores = [...vector.layerScores!];
    expect(scores[0]).toBe(0);
    expect(scores.indexOf(Math.max(...scores))).toBe(strong);
    expect([...vector.directions[0]!].every((x) => x === 0)).toBe(true);
    // Residual norms default to the mean L2 norm of each layer's neutral samples.
    const expected = perLayer[2]!.neutral.reduce((s, v) => s + l2Norm(v), 0) / 60;
    expect(vector.residualNorms![2]).toBeCloseTo(expected, 4);
    expect(vector.provenance).toMatchObject({ method: "mean-diff", samples: 60, settings: { pooling: "mean" } });
  });
});

describe("poolResiduals", () => {
  it("means over positions or keeps the last one, per layer", () => {
    const capture: ResidualCapture = {
      layers: [1, 2],
      positions: 2,
      hiddenSize: 2,
      data: [Float32Array.of(1, 2, 3, 6), Float32Array.of(0, 0, 4, 8)],
    };
    expect(poolResiduals(capture, "mean").map((v) => [...v])).toEqual([
      [2, 4],
      [2, 4],
    ]);
    expect(poolResiduals(capture, "last").map((v) => [...v])).toEqual([
      [3, 6],
      [4, 8],
    ]);
  });
});
