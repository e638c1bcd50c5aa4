import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  EmotionVector,
  FingerprintMismatchError,
  GgmlType,
  GgufValueType,
  HiddenSizeMismatchError,
  InvalidFileError,
  LayerCountMismatchError,
  NonFiniteValueError,
  decodeVectorFile,
  encodeGguf,
  encodeVectorFile,
  openGguf,
  bytesByteSource,
  type GgufEntry,
  type GgufTensorInput,
  modelIdentity,
  type ModelInfo,
} from "../src/index.js";
import { loadVectorFile, saveVectorFile } from "../src/node/index.js";
import { runGgufPy } from "./helpers/gguf-py.js";
import { ensureModel, SMOLLM2_MODEL_INFO } from "./helpers/models.js";

const model = SMOLLM2_MODEL_INFO;
const provenance = {
  method: "mean-diff",
  settings: { pooling: "response-mean", shrinkage: 0.1, nested: { ok: true } },
  samples: 48,
  corpus: "fixed",
  corpusHash: "0123456789abcdef",
  backend: "llama.cpp",
  createdAt: "2026-11-25T19:00:00.000Z",
} as const;

/** Seeded PRNG (mulberry32), so failures reproduce. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeVector(seed = 1, m: ModelInfo = model): EmotionVector {
  const random = prng(seed);
  const directions = Array.from({ length: m.layerCount }, (_, layer) =>
    layer === 0
      ? new Float32Array(m.hiddenSize)
      : Float32Array.from({ length: m.hiddenSize }, () => (random() - 0.5) * 2 ** (random() * 40 - 20)),
  );
  // Values whose bits a sloppy encoder would lose: -0, the smallest subnormal, the largest float.
  directions[1]!.set([-0, 1.4e-45, -3.4028234663852886e38]);
  return new EmotionVector({
    emotion: "joy",
    model: m,
    directions,
    residualNorms: Float32Array.from({ length: m.layerCount }, () => random() * 100),
    layerScores: Float32Array.from({ length: m.layerCount }, () => random()),
    provenance,
  });
}

function bits(a: Float32Array): number[] {
  return [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
}

/** A control-vector file as repeng's export_gguf / llama-cvector-generator write it. */
function foreignFile(
  layers: Record<number, Float32Array>,
  extra: [string, GgufEntry][] = [],
  extraTensors: GgufTensorInput[] = [],
): Uint8Array {
  return encodeGguf({
    metadata: [
      ["general.architecture", { type: GgufValueType.STRING, value: "controlvector" }],
      ["controlvector.model_hint", { type: GgufValueType.STRING, value: "llama" }],
      ["controlvector.layer_count", { type: GgufValueType.INT32, value: Object.keys(layers).length }],
      ...extra,
    ],
    tensors: [
      ...Object.entries(layers).map(([k, v]) => ({
        name: `direction.${k}`,
        dims: [v.length],
        type: GgmlType.F32,
        data: new Uint8Array(v.buffer),
      })),
      ...extraTensors,
    ],
  });
}

const work = mkdtempSync(join(tmpdir(), "emosteer-vector-file-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("EV files", () => {
  it("round-trip bit-exactly (directions, norms, scores, identity, provenance) and re-encode to the same bytes", async () => {
    const v = makeVector();
    const bytes = encodeVectorFile(v);
    const back = await decodeVectorFile(bytes, { expectedModel: model });
    expect(back.equals(v)).toBe(true);
    back.directions.forEach((d, l) => {
      expect(bits(d), `layer ${l}`).toEqual(bits(v.directions[l]!));
    });
    expect(Object.is(back.directions[1]![0], -0)).toBe(true);
    expect(bits(back.residualNorms!)).toEqual(bits(v.residualNorms!));
    expect(bits(back.layerScores!)).toEqual(bits(v.layerScores!));
    expect(back.model).toEqual(modelIdentity(model));
    expect(back.provenance).toEqual(v.provenance);
    expect(encodeVectorFile(back)).toEqual(bytes);
  });

  it("decode from a Node Buffer inside a larger pool (Buffer.slice shares memory; the reader must copy)", async () => {
    const v = makeVector();
    const bytes = encodeVectorFile(v);
    // Buffer.from(...) of a small payload lands at an offset inside Node's shared pool.
    const pooled = Buffer.concat([Buffer.alloc(13, 7), Buffer.from(bytes)]).subarray(13);
    expect(pooled.byteOffset).toBeGreaterThan(0);
    const back = await decodeVectorFile(pooled, { expectedModel: model });
    expect(back.equals(v)).toBe(true);
    expect(bits(back.residualNorms!)).toEqual(bits(v.residualNorms!));
  });

  it("have the layout llama.cpp's control-vector loader requires (checked with gguf-py's reader)", async () => {
    const v = makeVector(2);
    const bytes = encodeVectorFile(v);
    const gguf = await openGguf(bytesByteSource(bytes));
    expect(gguf.get("general.architecture")).toBe("controlvector");
    expect(gguf.get("controlvector.model_hint")).toBe("llama");
    expect(gguf.tensors.map((t) => t.name)).toEqual(Array.from({ length: 29 }, (_, i) => `direction.${i + 1}`));
    expect(gguf.tensors.every((t) => t.type === GgmlType.F32 && t.dims.length === 1 && t.dims[0] === 576)).toBe(true);

    const path = join(work, "layout.gguf");
    writeFileSync(path, bytes);
    const oracle = await runGgufPy<{
      fields: Record<string, { value?: unknown }>;
      tensors: { name: string; type: string; dims: number[] }[];
    }>({ op: "metadata", gguf: path });
    expect(oracle.fields["general.architecture"]!.value).toBe("controlvector");
    expect(oracle.fields["emosteer.emotion"]!.value).toBe("joy");
    expect(oracle.tensors.map((t) => [t.name, t.type, t.dims])).toEqual(gguf.tensors.map((t) => [t.name, "F32", [576]]));
  });

  it("save and load through files (atomic write, no temp file left behind)", async () => {
    const v = makeVector(3);
    const path = join(work, "sub", "joy.gguf");
    await saveVectorFile(path, v);
    await saveVectorFile(path, v); // overwriting is fine
    const back = await loadVectorFile(path, { expectedModel: model });
    expect(back.equals(v)).toBe(true);
    expect(readFileSync(path)).toEqual(Buffer.from(encodeVectorFile(v)));
    const { readdirSync } = await import("node:fs");
    expect(readdirSync(join(work, "sub"))).toEqual(["joy.gguf"]);
  });

  it("import foreign control vectors given the model and emotion; missing layers are zero", async () => {
    const d5 = Float32Array.from({ length: 576 }, (_, i) => Math.sin(i));
    const d12 = Float32Array.from({ length: 576 }, (_, i) => Math.cos(i));
    const bytes = foreignFile({ 5: d5, 12: d12 });
    const v = await decodeVectorFile(bytes, { expectedModel: model, emotion: "calm" });
    expect(v.emotion).toBe("calm");
    expect(v.model.fingerprint).toBe(model.fingerprint);
    expect(bits(v.directions[5]!)).toEqual(bits(d5));
    expect(bits(v.directions[12]!)).toEqual(bits(d12));
    expect(v.directions[6]!.every((x) => x === 0)).toBe(true);
    expect(v.residualNorms).toBeUndefined();
    expect(v.provenance.method).toBe("imported");
    expect(v.provenance.settings).toMatchObject({ modelHint: "llama" });

    await expect(decodeVectorFile(bytes, { emotion: "calm" })).rejects.toThrow(/pass the model it was made for \(expectedModel\)/);
    await expect(decodeVectorFile(bytes, { expectedModel: model })).rejects.toThrow(/pass the emotion/);
    await expect(decodeVectorFile(bytes, { expectedModel: { ...model, hiddenSize: 960 }, emotion: "calm" })).rejects.toThrow(
      HiddenSizeMismatchError,
    );
    await expect(decodeVectorFile(foreignFile({ 30: d5 }), { expectedModel: model, emotion: "calm" })).rejects.toThrow(
      LayerCountMismatchError,
    );
  });

  it("refuse a vector of another model, naming the mismatch (fingerprint can be waived)", async () => {
    const bytes = encodeVectorFile(makeVector(4));
    await expect(decodeVectorFile(bytes, { expectedModel: { ...model, hiddenSize: 960 } })).rejects.toThrow(
      new HiddenSizeMismatchError(960, 576, 'EV "joy"').message,
    );
    await expect(decodeVectorFile(bytes, { expectedModel: { ...model, layerCount: 24 } })).rejects.toThrow(LayerCountMismatchError);
    const other = { ...model, fingerprint: "ffffffffffffffff" };
    await expect(decodeVectorFile(bytes, { expectedModel: other })).rejects.toThrow(FingerprintMismatchError);
    await expect(decodeVectorFile(bytes, { expectedModel: other })).rejects.toThrow(/allowFingerprintMismatch/);
    expect((await decodeVectorFile(bytes, { expectedModel: other, allowFingerprintMismatch: true })).model.fingerprint).toBe(
      model.fingerprint,
    );
  });

  it("refuse corrupt and wrong files with clear errors", async () => {
    const d = new Float32Array(576).fill(0.5);
    const cases: [string, Uint8Array, RegExp | (new (...args: never[]) => Error)][] = [
      [
        "a model file",
        encodeGguf({ metadata: [["general.architecture", { type: GgufValueType.STRING, value: "llama" }]], tensors: [] }),
        /"llama", not "controlvector": this is a model file/,
      ],
      ["no architecture", encodeGguf({ metadata: [], tensors: [] }), /general.architecture is missing/],
      ["direction.0", foreignFile({ 0: d }), /direction\.0 is present/],
      [
        "a stray tensor",
        foreignFile({ 1: d }, [], [{ name: "bias", dims: [576], type: GgmlType.F32, data: new Uint8Array(d.buffer) }]),
        /"bias" is not named direction/,
      ],
      [
        "an F16 direction",
        foreignFile({}, [], [{ name: "direction.1", dims: [576], type: GgmlType.F16, data: new Uint8Array(1152) }]),
        /F16; control vectors must be F32/,
      ],
      [
        "a 2-D direction",
        foreignFile({}, [], [{ name: "direction.1", dims: [288, 2], type: GgmlType.F32, data: new Uint8Array(d.buffer) }]),
        /must be 1-D/,
      ],
      ["a NaN", foreignFile({ 3: Float32Array.from(d, (x, i) => (i === 7 ? NaN : x)) }), NonFiniteValueError],
      ["not GGUF at all", new TextEncoder().encode('{"emotion":"joy"}'), /not a GGUF file/],
      ["truncated", encodeVectorFile(makeVector(5)).subarray(0, 40_000), /truncated/],
      ["empty", new Uint8Array(0), /not a GGUF file/],
    ];
    for (const [what, bytes, error] of cases) {
      await expect(decodeVectorFile(bytes, { expectedModel: model, emotion: "joy", name: what }), what).rejects.toThrow(error);
    }
    // Our own keys, inconsistent: wrong type, newer format, bad provenance.
    const good = makeVector(6);
    const tamper = (key: string, entry: GgufEntry | undefined) => {
      const gguf = encodeVectorFile(good);
      return openGguf(bytesByteSource(gguf)).then(async (file) => {
        const metadata = [...file.metadata].filter(([k]) => k !== key);
        if (entry) metadata.push([key, entry]);
        const tensors = await Promise.all(
          file.tensors.map(async (t) => ({ name: t.name, dims: t.dims, type: t.type, data: await file.readTensorBytes(t) })),
        );
        return encodeGguf({ metadata, tensors });
      });
    };
    await expect(decodeVectorFile(await tamper("emosteer.model.hidden_size", { type: GgufValueType.INT32, value: 576 }))).rejects.toThrow(
      /hidden_size is a INT32, expected UINT32/,
    );
    await expect(decodeVectorFile(await tamper("emosteer.model.hidden_size", { type: GgufValueType.UINT32, value: 512 }))).rejects.toThrow(
      /has 576 values but emosteer.model.hidden_size is 512: the file is corrupt/,
    );
    await expect(decodeVectorFile(await tamper("emosteer.format_version", { type: GgufValueType.UINT32, value: 99 }))).rejects.toThrow(
      /newer emosteer/,
    );
    await expect(decodeVectorFile(await tamper("emosteer.provenance", { type: GgufValueType.STRING, value: "{" }))).rejects.toThrow(
      /provenance is not valid JSON/,
    );
    await expect(decodeVectorFile(await tamper("emosteer.fingerprint", undefined))).resolves.toBeInstanceOf(EmotionVector); // an unknown key is ignored
    await expect(decodeVectorFile(await tamper("emosteer.model.fingerprint", undefined))).rejects.toThrow(/fingerprint is missing/);
    await expect(
      decodeVectorFile(
        await tamper("emosteer.residual_norms", {
          type: GgufValueType.ARRAY,
          elementType: GgufValueType.FLOAT32,
          value: new Float32Array(3),
        }),
      ),
    ).rejects.toThrow(InvalidFileError);
  });

  it("refuse a model file quickly, reading only its header", async () => {
    const { path } = await ensureModel("smollm2-135m-instruct");
    await expect(loadVectorFile(path, { expectedModel: model })).rejects.toThrow(/this is a model file, not an EV file/);
  });
});
