import { describe, expect, it } from "vitest";
import {
  EmotionVector,
  GgufValueType,
  InvalidFileError,
  InvalidProfileError,
  decodeVectorFile,
  encodeGguf,
  encodeVectorFile,
  openGguf,
  bytesByteSource,
  type GgufEntry,
  type ModelInfo,
  type SteeringProfile,
  Steerer,
  resolveSteering,
  steeringFromWeights,
} from "../src/index.js";
import { LinearBackend, linearModel } from "./linear-backend.js";

const model: ModelInfo = {
  architecture: "llama",
  name: "toy-8",
  layerCount: 8,
  hiddenSize: 4,
  vocabSize: 10,
  contextLength: 64,
  fingerprint: "aaaabbbbccccdddd",
};
const provenance = {
  method: "mean-diff",
  settings: {},
  samples: 3,
  corpus: "fixed",
  corpusHash: "0123456789abcdef",
  backend: "test",
  createdAt: "2026-12-01T00:00:00.000Z",
} as const;
const profile: SteeringProfile = {
  layers: { from: 3, to: 5 },
  injection: "per-layer",
  alpha: 2.5 + 1e-9, // not representable in float32: must read back exactly
  judge: "f".repeat(64),
  objective: { eps: 0.41, fidelity: 0.67, perplexityRatio: 1.12, distinct2Ratio: 0.97 },
  searchedOn: { split: "extraction", queries: 6 },
};

function vector(init: { profile?: SteeringProfile; layerCount?: number } = {}): EmotionVector {
  const layerCount = init.layerCount ?? model.layerCount;
  const directions = Array.from({ length: layerCount }, (_, l) => Float32Array.from({ length: 4 }, (_, i) => (l === 0 ? 0 : l + i / 4)));
  return new EmotionVector({
    emotion: "joy",
    model: { ...model, layerCount },
    directions,
    provenance,
    ...(init.profile ? { profile: init.profile } : {}),
  });
}

/** Re-encodes `bytes` with `edit` applied to the metadata (tensors kept). */
async function rewrite(bytes: Uint8Array, edit: (m: Map<string, GgufEntry>) => void): Promise<Uint8Array> {
  const g = await openGguf(bytesByteSource(bytes));
  const metadata = new Map(g.metadata);
  edit(metadata);
  const tensors = await Promise.all(
    g.tensors.map(async (t) => ({
      name: t.name,
      dims: t.dims.map(Number),
      type: t.type,
      data: new Uint8Array(await g.readTensorBytes(t)),
    })),
  );
  return encodeGguf({ metadata: [...metadata], tensors });
}

describe("calibration profiles in vector files", () => {
  it("round-trips every field exactly", async () => {
    const back = await decodeVectorFile(encodeVectorFile(vector({ profile })), { expectedModel: model });
    expect(back.profile).toEqual(profile);
    expect(back.directions).toEqual(vector().directions);
  });

  it("a vector without a profile writes no profile keys and reads back without one", async () => {
    const bytes = encodeVectorFile(vector());
    const g = await openGguf(bytesByteSource(bytes));
    expect([...g.metadata.keys()].filter((k) => k.startsWith("emosteer.profile."))).toEqual([]);
    expect((await decodeVectorFile(bytes)).profile).toBeUndefined();
  });

  it("refuses a profile whose layers do not fit the model, naming the layers and the layer count", () => {
    expect(() => vector({ profile: { ...profile, layers: { from: 5, to: 8 } } })).toThrow(InvalidProfileError);
    expect(() => vector({ profile: { ...profile, layers: { from: 5, to: 8 } } })).toThrow(
      /layers 5\.\.8 do not fit the model, which has 8 layers/,
    );
    expect(() => vector({ profile: { ...profile, layers: { from: 0, to: 2 } } })).toThrow(/layers 0\.\.2 do not fit/);
    expect(() => vector({ profile: { ...profile, layers: { from: 4, to: 3 } } })).toThrow(/empty/);
  });

  it("refuses a file whose profile layers do not fit its model", async () => {
    const bytes = await rewrite(encodeVectorFile(vector({ profile })), (m) =>
      m.set("emosteer.profile.layer_to", { type: GgufValueType.UINT32, value: 9 }),
    );
    await expect(decodeVectorFile(bytes)).rejects.toThrow(/layers 3\.\.9 do not fit the model, which has 8 layers/);
  });

  it("refuses malformed profiles: bad α, bad injection, missing or mistyped keys", async () => {
    expect(() => vector({ profile: { ...profile, alpha: 0 } })).toThrow(/alpha must be a finite number above 0/);
    expect(() => vector({ profile: { ...profile, injection: "sideways" as never } })).toThrow(/injection/);
    expect(() => vector({ profile: { ...profile, searchedOn: { split: "extraction", queries: 0 } } })).toThrow(/searchedOn/);
    const good = encodeVectorFile(vector({ profile }));
    const incomplete = await rewrite(good, (m) => m.delete("emosteer.profile.judge"));
    await expect(decodeVectorFile(incomplete)).rejects.toThrow(InvalidFileError);
    await expect(decodeVectorFile(incomplete)).rejects.toThrow(/emosteer\.profile\.judge missing/);
    const mistyped = await rewrite(good, (m) => m.set("emosteer.profile.alpha", { type: GgufValueType.STRING, value: "2.5" }));
    await expect(decodeVectorFile(mistyped)).rejects.toThrow(/emosteer\.profile\.alpha is a STRING/);
  });

  it("withProfile attaches and removes; algebra drops the profile (it was measured for the vector alone)", () => {
    const v = vector().withProfile(profile);
    expect(v.profile).toEqual(profile);
    expect(v.withProfile(undefined).profile).toBeUndefined();
    expect(v.scale(2).profile).toBeUndefined();
    expect(Object.isFrozen(v.profile!.layers)).toBe(true);
  });
});

function emotionVector(emotion: string, seed: number, p?: SteeringProfile, m: ModelInfo = model): EmotionVector {
  const directions = Array.from({ length: m.layerCount }, (_, l) =>
    Float32Array.from({ length: m.hiddenSize }, (_, i) => (l === 0 ? 0 : Math.sin(seed * 7 + l * 3 + i))),
  );
  return new EmotionVector({ emotion, model: m, directions, provenance, ...(p ? { profile: p } : {}) });
}

/** Rows (layers) of a resolved tensor that are not all zero. */
function steeredRows(t: { data: Float32Array; hiddenSize: number; layerCount: number }): number[] {
  return Array.from({ length: t.layerCount }, (_, l) => l).filter((l) =>
    t.data.subarray(l * t.hiddenSize, (l + 1) * t.hiddenSize).some((x) => x !== 0),
  );
}

describe("steering with profiles", () => {
  const joy = emotionVector("joy", 1, { ...profile, alpha: 2.5 });
  const fear = emotionVector("fear", 2, { ...profile, layers: { from: 1, to: 2 }, injection: "net-shift", alpha: 0.5 });
  const plain = emotionVector("anger", 3);
  const vectors = { joy, fear, anger: plain };

  it("a weight of 1 is the profile's α on the profile's layers with its injection", () => {
    const spec = steeringFromWeights(vectors, { joy: 1 });
    expect(spec.terms[0]).toMatchObject({ alpha: 2.5, layers: { from: 3, to: 5 }, injection: "per-layer" });
    const t = resolveSteering(spec, model);
    expect(steeredRows(t)).toEqual([3, 4, 5]);
    // Same as asking for the raw operating point explicitly.
    const raw = resolveSteering({ terms: [{ vector: joy, alpha: 2.5 }], layers: { from: 3, to: 5 }, injection: "per-layer" }, model);
    expect(t.data).toEqual(raw.data);
    // Weights scale the calibrated α.
    expect(resolveSteering(steeringFromWeights(vectors, { joy: 0.5 }), model).data).toEqual(
      resolveSteering({ terms: [{ vector: joy, alpha: 1.25 }], layers: { from: 3, to: 5 }, injection: "per-layer" }, model).data,
    );
  });

  it("explicit layers and injection override the profile's; the weight stays in units of the profile's α", () => {
    const spec = steeringFromWeights(vectors, { joy: 1 }, { layers: { from: 1, to: 6 }, injection: "net-shift" });
    const t = resolveSteering(spec, model);
    expect(t.data).toEqual(
      resolveSteering({ terms: [{ vector: joy, alpha: 2.5 }], layers: { from: 1, to: 6 }, injection: "net-shift" }, model).data,
    );
    expect(steeredRows(t)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("useProfiles: false makes weights raw α on every layer", () => {
    const t = resolveSteering(steeringFromWeights(vectors, { joy: 1 }, { useProfiles: false }), model);
    expect(t.data).toEqual(resolveSteering({ terms: [{ vector: joy, alpha: 1 }] }, model).data);
  });

  it("mixing vectors whose profiles differ steers each term on its own layers with its own injection (the sum of the terms resolved alone)", () => {
    const mixed = resolveSteering(steeringFromWeights(vectors, { joy: 1, fear: -2, anger: 0.3 }), model);
    const alone = [
      resolveSteering(steeringFromWeights(vectors, { joy: 1 }), model),
      resolveSteering(steeringFromWeights(vectors, { fear: -2 }), model),
      resolveSteering(steeringFromWeights(vectors, { anger: 0.3 }), model),
    ];
    const sum = alone[0]!.data.map((x, i) => x + alone[1]!.data[i]! + alone[2]!.data[i]!);
    for (const [i, x] of mixed.data.entries()) expect(x).toBeCloseTo(sum[i]!, 6);
    // Fear alone: net-shift on 1..2 (row 2 = α·(EV[2] − EV[1])), nothing past its window.
    const h = model.hiddenSize;
    expect(steeredRows(alone[1]!)).toEqual([1, 2]);
    for (let i = 0; i < h; i++) expect(alone[1]!.data[2 * h + i]).toBeCloseTo(-1 * (fear.directions[2]![i]! - fear.directions[1]![i]!), 6);
    // The unprofiled vector still steers every layer.
    expect(steeredRows(alone[2]!)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("with shared layers and injection, per-term resolution equals the old summed resolution", () => {
    const a = emotionVector("joy", 4);
    const b = emotionVector("fear", 5);
    const together = resolveSteering(
      {
        terms: [
          { vector: a, alpha: 1.5 },
          { vector: b, alpha: -0.7 },
        ],
        layers: { from: 2, to: 6 },
      },
      model,
    );
    const h = model.hiddenSize;
    let carried = new Float64Array(h);
    for (let l = 2; l <= 6; l++) {
      const wanted = Float64Array.from({ length: h }, (_, i) => 1.5 * a.directions[l]![i]! - 0.7 * b.directions[l]![i]!);
      for (let i = 0; i < h; i++) expect(together.data[l * h + i]).toBeCloseTo(wanted[i]! - carried[i]!, 5);
      carried = wanted;
    }
  });

  it("a term's own layers are validated", () => {
    expect(() => resolveSteering({ terms: [{ vector: plain, alpha: 1, layers: { from: 2, to: 9 } }] }, model)).toThrow(/9/);
  });

  it("Steerer passes the profile's operating point to the backend, and explicit layers override it", async () => {
    const p: SteeringProfile = { ...profile, layers: { from: 2, to: 3 }, alpha: 4 };
    const v = emotionVector("joy", 6, p, linearModel);
    const backend = new LinearBackend();
    const steerer = await Steerer.create(backend, { vectors: { joy: v } });
    await steerer.generate("hello", { joy: 0.5 }, { maxTokens: 4 });
    const first = backend.generations[0]!.options.steering!;
    expect(first.terms[0]).toMatchObject({ alpha: 2, layers: { from: 2, to: 3 }, injection: "per-layer" });
    expect(steeredRows(resolveSteering(first, linearModel))).toEqual([2, 3]);
    await steerer.generate("hello", { joy: 0.5 }, { maxTokens: 4, layers: { from: 1, to: 1 } });
    expect(steeredRows(resolveSteering(backend.generations[1]!.options.steering!, linearModel))).toEqual([1]);
  });
});
