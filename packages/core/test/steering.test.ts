import { describe, expect, it } from "vitest";
import {
  EmotionVector,
  FingerprintMismatchError,
  HiddenSizeMismatchError,
  InvalidSteeringError,
  LayerOutOfRangeError,
  MissingResidualNormsError,
  UnknownEmotionError,
  resolveSteering,
  steeringFromWeights,
} from "../src/index.js";

const model = { architecture: "toy", name: "toy", layerCount: 4, hiddenSize: 4, fingerprint: "00000000000000aa" };
const provenance = {
  method: "mean-diff",
  settings: {},
  samples: 1,
  corpus: "fixed",
  corpusHash: "x",
  backend: "test",
  createdAt: "2026-01-01",
} as const;

function vector(emotion: string, rows: number[][], residualNorms?: number[], m = model) {
  return new EmotionVector({
    emotion,
    model: m,
    directions: [new Float32Array(m.hiddenSize), ...rows.map((r) => Float32Array.from(r))],
    ...(residualNorms ? { residualNorms: Float32Array.from(residualNorms) } : {}),
    provenance,
  });
}

// Norms 5, 2, 4 (joy) and 1, 13, 2 (fear): unit normalisation is exact in binary floating point only where noted.
const joy = vector("joy", [[3, 4, 0, 0], [0, 0, 2, 0], [1, -1, 1, -1].map((x) => 2 * x)], [0, 10, 20, 40]);
const fear = vector(
  "fear",
  [
    [0, 0, 0, 1],
    [5, 12, 0, 0],
    [0, 2, 0, 0],
  ],
  [0, 8, 8, 8],
);
const rows = (t: { data: Float32Array; hiddenSize: number }) =>
  Array.from({ length: t.data.length / t.hiddenSize }, (_, l) => [...t.data.subarray(l * t.hiddenSize, (l + 1) * t.hiddenSize)]);

describe("resolveSteering", () => {
  it('"none": row l = Σ α_k · EV_k[l] on layers 1..L-1, row 0 zero', () => {
    const tensor = resolveSteering(
      {
        terms: [
          { vector: joy, alpha: 1.5 },
          { vector: fear, alpha: -1 },
        ],
        injection: "per-layer",
      },
      model,
    );
    expect(tensor).toMatchObject({ layerCount: 4, hiddenSize: 4, isZero: false });
    expect(rows(tensor)).toEqual([
      [0, 0, 0, 0],
      [4.5, 6, 0, -1],
      [-5, -12, 3, 0],
      [3, -5, 3, -3],
    ]);
  });

  it('"unit": every layer\'s direction has norm 1 before α', () => {
    const tensor = resolveSteering({ terms: [{ vector: joy, alpha: 2 }], normalization: "unit", injection: "per-layer" }, model);
    expect(rows(tensor)).toEqual([
      [0, 0, 0, 0],
      [Math.fround(1.2), Math.fround(1.6), 0, 0],
      [0, 0, 2, 0],
      [1, -1, 1, -1],
    ]);
    const sum = resolveSteering(
      {
        terms: [
          { vector: joy, alpha: 1 },
          { vector: fear, alpha: 1 },
        ],
        normalization: "unit",
        layers: [2],
      },
      model,
    );
    expect(rows(sum)[2]).toEqual([5 / 13, 12 / 13, 1, 0].map(Math.fround));
  });

  it('"residual-fraction": layer l has norm |α| · fraction · residualNorms[l]', () => {
    const tensor = resolveSteering(
      { terms: [{ vector: joy, alpha: -3 }], normalization: { mode: "residual-fraction", fraction: 0.25 }, injection: "per-layer" },
      model,
    );
    expect(rows(tensor)).toEqual([
      [0, 0, 0, 0],
      [-4.5, -6, 0, 0], // unit (0.6, 0.8) × 0.25 × 10 × −3
      [0, 0, -15, 0], // 0.25 × 20 × −3
      [-15, 15, -15, 15], // (½, −½, ½, −½) × 0.25 × 40 × −3
    ]);
  });

  it("steers only the chosen layers (inclusive range or list) and applies layerScale after normalisation", () => {
    const range = resolveSteering({ terms: [{ vector: joy, alpha: 1 }], layers: { from: 2, to: 3 }, injection: "per-layer" }, model);
    expect(rows(range)[1]).toEqual([0, 0, 0, 0]);
    expect(rows(range)[2]).toEqual([0, 0, 2, 0]);
    const list = resolveSteering({ terms: [{ vector: joy, alpha: 1 }], layers: [3, 1, 3], injection: "per-layer" }, model);
    expect(rows(list).map((r) => r.some((x) => x !== 0))).toEqual([false, true, false, true]);
    const scaled = resolveSteering(
      { terms: [{ vector: joy, alpha: 1 }], normalization: "unit", layerScale: [7, 0.5, 2, 0], injection: "per-layer" },
      model,
    );
    expect(rows(scaled)).toEqual([[0, 0, 0, 0], [0.3, 0.4, 0, 0].map(Math.fround), [0, 0, 2, 0], [0, 0, 0, 0]]);
  });

  it('"net-shift" (the default): the rows add up, layer by layer, to the per-layer wanted shift', () => {
    const spec = {
      terms: [
        { vector: joy, alpha: 1.5 },
        { vector: fear, alpha: -1 },
      ],
      layers: [1, 3],
    } as const;
    const wanted = rows(resolveSteering({ ...spec, injection: "per-layer" }, model));
    const net = rows(resolveSteering(spec, model));
    expect(net[0]).toEqual([0, 0, 0, 0]);
    expect(net[2]).toEqual([0, 0, 0, 0]);
    expect(net[1]).toEqual(wanted[1]);
    // Layer 3 gets only what layer 1's shift (carried by the residual stream) does not already give.
    net[3]!.forEach((x, i) => {
      expect(x).toBeCloseTo(wanted[3]![i]! - wanted[1]![i]!, 5);
    });
    expect(() => resolveSteering({ ...spec, injection: "sideways" as never }, model)).toThrow(/"net-shift" or "per-layer"/);
  });

  it("no terms or zero α gives a zero tensor", () => {
    expect(resolveSteering({ terms: [] }, model).isZero).toBe(true);
    expect(resolveSteering({ terms: [{ vector: joy, alpha: 0 }] }, model).isZero).toBe(true);
  });

  it("throws named errors for invalid specs", () => {
    const term = { vector: joy, alpha: 1 };
    expect(() => resolveSteering({ terms: [{ vector: joy, alpha: Number.NaN }] }, model)).toThrow(InvalidSteeringError);
    expect(() => resolveSteering({ terms: [{ vector: joy, alpha: Infinity }] }, model)).toThrow(/α = Infinity/);
    expect(() => resolveSteering({ terms: [term], layers: [0, 1] }, model)).toThrow(new LayerOutOfRangeError(0, 1, 3));
    expect(() => resolveSteering({ terms: [term], layers: { from: 1, to: 4 } }, model)).toThrow(LayerOutOfRangeError);
    expect(() => resolveSteering({ terms: [term], layers: [1.5] }, model)).toThrow(LayerOutOfRangeError);
    expect(() => resolveSteering({ terms: [term], layers: { from: 3, to: 2 } }, model)).toThrow(/"from" must not exceed "to"/);
    expect(() => resolveSteering({ terms: [term], layerScale: [1, 1] }, model)).toThrow(/one factor per layer/);
    expect(() => resolveSteering({ terms: [term], normalization: { mode: "residual-fraction", fraction: 0 } }, model)).toThrow(
      InvalidSteeringError,
    );
    const noNorms = vector("awe", [
      [1, 0, 0, 0],
      [1, 0, 0, 0],
      [1, 0, 0, 0],
    ]);
    expect(() =>
      resolveSteering({ terms: [{ vector: noNorms, alpha: 1 }], normalization: { mode: "residual-fraction", fraction: 0.1 } }, model),
    ).toThrow(new MissingResidualNormsError("awe"));
    expect(() => resolveSteering({ terms: [term] }, { ...model, fingerprint: "ffffffffffffffff" })).toThrow(FingerprintMismatchError);
    expect(
      resolveSteering({ terms: [term] }, { ...model, fingerprint: "ffffffffffffffff" }, { allowFingerprintMismatch: true }).isZero,
    ).toBe(false);
    // The spec itself can carry the acceptance (Steerer sets it), so engines that resolve it again accept it too.
    expect(resolveSteering({ terms: [term], allowFingerprintMismatch: true }, { ...model, fingerprint: "ffffffffffffffff" }).isZero).toBe(
      false,
    );
    expect(() =>
      resolveSteering({ terms: [term], allowFingerprintMismatch: false }, { ...model, fingerprint: "ffffffffffffffff" }),
    ).toThrow(FingerprintMismatchError);
    expect(() => resolveSteering({ terms: [term] }, { ...model, hiddenSize: 8 })).toThrow(HiddenSizeMismatchError);
  });
});

describe("steeringFromWeights", () => {
  it("builds terms from weights by emotion name (Map or record)", () => {
    const spec = steeringFromWeights(
      new Map([
        ["joy", joy],
        ["fear", fear],
      ]),
      { joy: 1.5, fear: -1 },
      { layers: [1] },
    );
    expect(spec.terms.map((t) => [t.vector.emotion, t.alpha])).toEqual([
      ["joy", 1.5],
      ["fear", -1],
    ]);
    expect(spec.layers).toEqual([1]);
    expect(steeringFromWeights({ joy }, { joy: 2 }).terms[0]!.vector).toBe(joy);
  });

  it("names the missing emotion and lists the available ones", () => {
    expect(() => steeringFromWeights({ joy, fear }, { joy: 1, awe: 2 })).toThrow(UnknownEmotionError);
    expect(() => steeringFromWeights({ joy, fear }, { awe: 2 })).toThrow(/No emotion vector for "awe"; available: joy, fear/);
  });
});
