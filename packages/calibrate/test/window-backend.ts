// A synthetic SteeringBackend with a KNOWN best window, for the search's unit tests. Like core's
// LinearBackend (test/linear-backend.ts) it does real arithmetic on the resolved steering tensor,
// on an 8-layer model whose emotion direction at block l is the basis vector e_l:
// - blocks 2..6 "read" the emotion: the emotion present at block l is the e_l component of the
//   residual shift carried to l (the running sum of the tensor's rows);
// - steering injected at block 2 makes generations repeat themselves (distinct-2 falls) but is
//   invisible teacher-forced, at block 6 (and 1, 7) it garbles them (perplexity rises, visible
//   teacher-forced too), and a large push anywhere drifts from the content (fidelity falls).
// So 3..5 is the best window, and 2..5, 3..6 or a larger α are more emotional but break a constraint.
import {
  type ChatMessage,
  type ContinuationScore,
  EmotionVector,
  type GenerateOptions,
  type Generation,
  type ModelInfo,
  type SteeringBackend,
  type SteeringSpec,
  resolveSteering,
} from "@emosteer/core";
import type { CalibrationScorer } from "../src/index.js";

export const windowModel: ModelInfo = {
  architecture: "window",
  name: "window-toy",
  layerCount: 8,
  hiddenSize: 8,
  vocabSize: 256,
  contextLength: 4096,
  fingerprint: "5555666677778888",
};

const READS_EMOTION = new Set([2, 3, 4, 5, 6]);
const REPEATS = new Map([[2, 1]]);
const GARBLES = new Map([
  [1, 1],
  [6, 1],
  [7, 1],
]);

/** The joy vector: e_l at block l, with per-layer discriminability peaking on 3..5. */
export function joyVector(): EmotionVector {
  const directions = Array.from({ length: windowModel.layerCount }, (_, l) =>
    Float32Array.from({ length: windowModel.hiddenSize }, (_, i) => (l > 0 && i === l ? 1 : 0)),
  );
  return new EmotionVector({
    emotion: "joy",
    model: windowModel,
    directions,
    layerScores: Float32Array.from([0, 0.1, 0.5, 0.9, 1, 0.9, 0.5, 0.1]),
    provenance: {
      method: "mean-diff",
      settings: {},
      samples: 1,
      corpus: "synthetic",
      corpusHash: "0000000000000000",
      backend: "window",
      createdAt: "",
    },
  });
}

/** What a steering spec does to this model. */
export function effect(steering: SteeringSpec | null | undefined): { emotion: number; repeat: number; garble: number; push: number } {
  if (!steering) return { emotion: 0, repeat: 0, garble: 0, push: 0 };
  const t = resolveSteering(steering, windowModel);
  const h = windowModel.hiddenSize;
  const carried = new Float64Array(h);
  let emotion = 0;
  let repeat = 0;
  let garble = 0;
  let push = 0;
  for (let l = 1; l < windowModel.layerCount; l++) {
    const row = t.data.subarray(l * h, (l + 1) * h);
    const injected = Math.hypot(...row);
    for (let i = 0; i < h; i++) carried[i]! += row[i]!;
    if (READS_EMOTION.has(l)) emotion += Math.max(0, carried[l]!);
    push = Math.max(push, Math.abs(carried[l]!));
    repeat += (REPEATS.get(l) ?? 0) * injected;
    garble += (GARBLES.get(l) ?? 0) * injected;
  }
  return { emotion, repeat, garble, push };
}

const EMOTION_WORDS = [
  "joyful",
  "joyous",
  "delighted",
  "glad",
  "cheerful",
  "happy",
  "elated",
  "merry",
  "thrilled",
  "bright",
  "sunny",
  "gleeful",
];

export class WindowBackend implements SteeringBackend {
  readonly name = "window";
  readonly model = windowModel;
  readonly contextSize = 4096;
  readonly capabilities = {
    steering: true,
    capture: false,
    logProbs: true,
    seededSampling: false,
    parallelSequences: 1,
    steerableLayers: { from: 1, to: 7 },
  };
  disposed = false;
  generateCalls = 0;
  scoreCalls = 0;

  formatChat(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    return messages.map((m) => `<${m.role}>${m.content}\n`).join("") + (options.addGenerationPrompt ? "<assistant>" : "");
  }
  async tokenize(text: string): Promise<number[]> {
    return [...text].map((c) => c.charCodeAt(0) % 256);
  }
  async tokenizeChat(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): Promise<number[]> {
    return this.tokenize(this.formatChat(messages, options));
  }
  async detokenize(tokens: readonly number[]): Promise<string> {
    return String.fromCharCode(...tokens);
  }
  async captureResiduals(): Promise<never> {
    throw new Error("not used by the calibration tests");
  }

  /** The query's 12 content words, minus the drifted ones, plus emotion words, repeats and garble. */
  async generate(prompt: string | readonly ChatMessage[], options: GenerateOptions = {}): Promise<Generation> {
    this.generateCalls++;
    const messages = typeof prompt === "string" ? [{ role: "user" as const, content: prompt }] : prompt;
    const { emotion, repeat, garble, push } = effect(options.steering);
    const content = contentWords(messages.at(-1)!.content);
    const drifted = Math.min(content.length, Math.round(content.length * 0.05 * push * push));
    const words = [
      ...content.slice(drifted),
      ...Array.from({ length: drifted }, (_, i) => `elsewhere${i}`),
      ...Array.from(
        { length: Math.round(3 * emotion) },
        (_, i) => `${EMOTION_WORDS[i % EMOTION_WORDS.length]}${Math.floor(i / EMOTION_WORDS.length) || ""}`,
      ),
      ...Array.from({ length: Math.round(16 * repeat) }, () => "so"),
      ...Array.from({ length: Math.round(6 * garble) }, () => "zzz"),
    ];
    const text = words.join(" ");
    return {
      text,
      tokens: await this.tokenize(text),
      finishReason: "stop",
      timings: { promptTokens: 0, generatedTokens: words.length, promptMs: 0, decodeMs: 0, firstTokenMs: 0 },
    };
  }

  /** Per character: −1, −4 for a "z" (garble); steered, emotion words gain 0.1·emotion and every token loses 0.3·garble. */
  async scoreContinuation(
    _prompt: string,
    continuation: string,
    options: { steering?: SteeringSpec | null } = {},
  ): Promise<ContinuationScore> {
    this.scoreCalls++;
    const { emotion, garble } = effect(options.steering);
    const logProbs = new Float32Array(continuation.length);
    let p = 0;
    for (const word of continuation.split(/(\s+)/)) {
      const emotional = EMOTION_WORDS.some((w) => word.startsWith(w));
      for (const c of word) logProbs[p++] = (c === "z" ? -4 : -1) + (emotional ? 0.1 * emotion : 0) - 0.3 * garble;
    }
    return { tokens: await this.tokenize(continuation), logProbs, total: logProbs.reduce((s, x) => s + x, 0) };
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

function contentWords(query: string): string[] {
  const words = query.toLowerCase().split(/\W+/).filter(Boolean);
  return Array.from({ length: 12 }, (_, i) => `${words[i % words.length]}${i}`);
}

/** Judge: share of emotion words among emotion words + 6; fidelity: share of the reference's words kept. */
export const windowScorer: CalibrationScorer = {
  judgeId: "synthetic-judge",
  async emotionProbabilities(texts, emotion) {
    if (emotion !== "joy") throw new RangeError(emotion);
    return texts.map((t) => {
      const n = t.split(" ").filter((w) => EMOTION_WORDS.some((e) => w.startsWith(e))).length;
      return n / (n + 6);
    });
  },
  async similarity(text, reference) {
    const ref = new Set(reference.split(" ").filter(Boolean));
    const kept = new Set(text.split(" ").filter((w) => ref.has(w)));
    return ref.size === 0 ? 1 : kept.size / ref.size;
  },
  async dispose() {},
};

/** Synthetic extraction data: queries and their contrast answers. */
export const QUERIES = [
  "How do I water a cactus in summer",
  "What should I pack for a weekend hike",
  "How can I fix a squeaky door hinge",
  "Which plants grow well on a balcony",
];
export const CONTRAST = QUERIES.slice(0, 2).map((query) => ({
  query,
  neutral: "Water it every two weeks and let the soil dry out between waterings.",
  emotional: "joyful news, water it every two weeks, glad and delighted, and let the soil dry out, happy!",
}));
