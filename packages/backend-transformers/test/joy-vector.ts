import { EmotionVector, type SteeringBackend } from "@emosteer/core";

const JOYFUL = [
  "I am overjoyed! This is the happiest, most wonderful day, I love everything and I'm laughing with delight!",
  "Yay, we won! I'm thrilled, beaming and so grateful, what a fantastic, joyful surprise!",
  "Oh, how lovely! My heart is full of happiness and I can't stop smiling.",
];
const NEUTRAL = [
  "The report lists the quarterly figures. The meeting is on Tuesday at ten in room four.",
  "The train leaves at 9:40 from platform two and arrives at noon.",
  "The form has three fields: name, address and the date of birth.",
];

/** Mean residual over each text's tokens, per layer, averaged over the texts. */
async function meanResiduals(backend: SteeringBackend, texts: readonly string[]): Promise<Float32Array[]> {
  const { layerCount, hiddenSize } = backend.model;
  const sums = Array.from({ length: layerCount }, () => new Float32Array(hiddenSize));
  for (const text of texts) {
    const tokens = await backend.tokenize(text);
    const capture = await backend.captureResiduals({ tokens, spanStart: 0, spanEnd: tokens.length });
    capture.data.forEach((rows, k) => {
      const layer = capture.layers[k]!;
      for (let p = 0; p < capture.positions; p++) {
        for (let i = 0; i < hiddenSize; i++) sums[layer]![i]! += rows[p * hiddenSize + i]! / capture.positions / texts.length;
      }
    });
  }
  return sums;
}

/** A small but real joy direction (mean difference of joyful and neutral sentences), for tests. */
export async function joyVector(backend: SteeringBackend): Promise<EmotionVector> {
  const joyful = await meanResiduals(backend, JOYFUL);
  const neutral = await meanResiduals(backend, NEUTRAL);
  const directions = joyful.map((row, layer) => (layer === 0 ? new Float32Array(row.length) : row.map((x, i) => x - neutral[layer]![i]!)));
  return new EmotionVector({
    emotion: "joy",
    model: backend.model,
    directions,
    provenance: {
      method: "mean-diff",
      settings: {},
      samples: JOYFUL.length,
      corpus: "test",
      corpusHash: "0000000000000000",
      backend: backend.name,
      createdAt: new Date(0).toISOString(),
    },
  });
}
