// Control-vector files without emosteer metadata (repeng's export_gguf, llama-cvector-generator):
// what importing one takes, what is checked against the model, and the named refusals.
import { describe, expect, it } from "vitest";
import {
  decodeVectorFile,
  encodeGguf,
  ForeignVectorFileError,
  GgmlType,
  GgufValueType,
  HiddenSizeMismatchError,
  InvalidFileError,
  LayerCountMismatchError,
  type ModelInfo,
} from "../src/index.js";

const model: ModelInfo = {
  architecture: "llama",
  name: "SmolLM2 135M Instruct",
  layerCount: 4,
  hiddenSize: 3,
  vocabSize: 10,
  contextLength: 64,
  fingerprint: "b179c9523d0e6a0f",
};

/** repeng's layout: controlvector.model_hint, controlvector.layer_count, direction.<k> F32 tensors. */
function foreignFile(directions: Record<number, number[]>): Uint8Array {
  return encodeGguf({
    metadata: [
      ["general.architecture", { type: GgufValueType.STRING, value: "controlvector" }],
      ["controlvector.model_hint", { type: GgufValueType.STRING, value: "llama" }],
      ["controlvector.layer_count", { type: GgufValueType.UINT32, value: Object.keys(directions).length }],
    ],
    tensors: Object.entries(directions).map(([layer, values]) => {
      const data = Float32Array.from(values);
      return { name: `direction.${layer}`, dims: [data.length], type: GgmlType.F32, data: new Uint8Array(data.buffer) };
    }),
  });
}

describe("foreign control-vector files", () => {
  it("need the model and the emotion, and say which is missing (ForeignVectorFileError.missing)", async () => {
    const bytes = foreignFile({ 1: [1, 0, 0], 2: [0, 1, 0], 3: [0, 0, 1] });
    const noModel = await decodeVectorFile(bytes, { emotion: "joy" }).catch((e: unknown) => e);
    expect(noModel).toBeInstanceOf(ForeignVectorFileError);
    expect(noModel).toBeInstanceOf(InvalidFileError);
    expect((noModel as ForeignVectorFileError).missing).toBe("expectedModel");
    const noEmotion = await decodeVectorFile(bytes, { expectedModel: model }).catch((e: unknown) => e);
    expect((noEmotion as ForeignVectorFileError).missing).toBe("emotion");
    expect((noEmotion as Error).message).toMatch(/no emosteer metadata: pass the emotion it encodes \(emotion\)/);
  });

  it("import as the model's vector, layers the file lacks being zero, provenance 'imported' with the model hint", async () => {
    const vector = await decodeVectorFile(foreignFile({ 1: [1, 0, 0], 3: [0, 0, 2] }), {
      expectedModel: model,
      emotion: "joy",
      name: "joy-repeng.gguf",
    });
    expect(vector.model.fingerprint).toBe(model.fingerprint);
    expect(vector.directions.map((d) => [...d])).toEqual([
      [0, 0, 0],
      [1, 0, 0],
      [0, 0, 0],
      [0, 0, 2],
    ]);
    expect(vector.provenance).toMatchObject({
      method: "imported",
      corpus: "imported",
      settings: { source: "joy-repeng.gguf", modelHint: "llama" },
    });
  });

  it("are checked against the model's hidden size and layer count", async () => {
    await expect(
      decodeVectorFile(foreignFile({ 1: [1, 0, 0, 0] }), { expectedModel: model, emotion: "joy", name: "wide.gguf" }),
    ).rejects.toThrow(new HiddenSizeMismatchError(3, 4, "wide.gguf: direction.1"));
    await expect(
      decodeVectorFile(foreignFile({ 4: [1, 0, 0] }), { expectedModel: model, emotion: "joy", name: "deep.gguf" }),
    ).rejects.toThrow(new LayerCountMismatchError(4, 5, "deep.gguf: direction.4"));
  });
});
