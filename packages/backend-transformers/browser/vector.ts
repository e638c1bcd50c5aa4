// Reads an emotion vector file (a llama.cpp control-vector GGUF: one `direction.k` tensor per
// steered layer) in the browser with core's GGUF reader.
// TODO(core): switch to core's vector-file decoder once it lands (it also checks the emosteer.* identity).
import { bytesByteSource, EmotionVector, InvalidFileError, openGguf, type ModelInfo } from "@emosteer/core";

export async function decodeVectorBytes(bytes: Uint8Array, name: string, emotion: string, model: ModelInfo): Promise<EmotionVector> {
  const gguf = await openGguf(bytesByteSource(bytes, name));
  const directions: Float32Array[] = [];
  for (let layer = 0; layer < model.layerCount; layer++) {
    const tensor = layer === 0 ? undefined : gguf.tensor(`direction.${layer}`);
    directions.push(tensor ? await gguf.readTensor(tensor) : new Float32Array(model.hiddenSize));
  }
  if (directions.every((d) => d.every((x) => x === 0))) throw new InvalidFileError(name, "has no direction.k tensor for this model's layers");
  return new EmotionVector({
    emotion,
    model,
    directions,
    provenance: { method: "imported", settings: {}, samples: 0, corpus: name, corpusHash: "0000000000000000", backend: "file", createdAt: new Date(0).toISOString() },
  });
}
