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
} from "../src/index.js";

const model: ModelInfo = { architecture: "llama", name: "toy-8", layerCount: 8, hiddenSize: 4, vocabSize: 10, contextLength: 64, fingerprint: "aaaabbbbccccdddd" };
const provenance = { method: "mean-diff", settings: {}, samples: 3, corpus: "fixed", corpusHash: "0123456789abcdef", backend: "test", createdAt: "2026-12-01T00:00:00.000Z" } as const;
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
  return new EmotionVector({ emotion: "joy", model: { ...model, layerCount }, directions, provenance, ...(init.profile ? { profile: init.profile } : {}) });
}

/** Re-encodes `bytes` with `edit` applied to the metadata (tensors kept). */
async function rewrite(bytes: Uint8Array, edit: (m: Map<string, GgufEntry>) => void): Promise<Uint8Array> {
  const g = await openGguf(bytesByteSource(bytes));
  const metadata = new Map(g.metadata);
  edit(metadata);
  const tensors = await Promise.all(g.tensors.map(async (t) => ({ name: t.name, dims: t.dims.map(Number), type: t.type, data: new Uint8Array(await g.readTensorBytes(t)) })));
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
    expect(() => vector({ profile: { ...profile, layers: { from: 5, to: 8 } } })).toThrow(/layers 5\.\.8 do not fit the model, which has 8 layers/);
    expect(() => vector({ profile: { ...profile, layers: { from: 0, to: 2 } } })).toThrow(/layers 0\.\.2 do not fit/);
    expect(() => vector({ profile: { ...profile, layers: { from: 4, to: 3 } } })).toThrow(/empty/);
  });

  it("refuses a file whose profile layers do not fit its model", async () => {
    const bytes = await rewrite(encodeVectorFile(vector({ profile })), (m) => m.set("emosteer.profile.layer_to", { type: GgufValueType.UINT32, value: 9 }));
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
