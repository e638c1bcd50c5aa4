import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmotionVector, type SteeringBackend, type SteeringSpec } from "@emosteer/core";
import { createLlamaCppBackend, type LlamaCppBackend } from "@emosteer/backend-llamacpp";
import { createOnnxBackend, type OnnxSteeringBackend } from "@emosteer/backend-onnx";
import { createTransformersBackend, type TransformersSteeringBackend } from "@emosteer/backend-transformers";
import { ARCHITECTURES, type ArchitectureFacts, exportGgufToOnnx } from "@emosteer/onnx-export";
import { compareLogits } from "./logit-parity.js";
import type { SyntheticFamily } from "./synthetic-families.js";
import { syntheticGguf } from "./synthetic-gguf.js";
import { tokenizerStressStrings } from "./tokenizer-strings.js";

/** The fixed text every synthetic model reads (its first {@link SYNTHETIC_POSITIONS} llama.cpp tokens). */
export const SYNTHETIC_TEXT =
  "The morning light came through the kitchen window while the kettle began to sing. " +
  "She wrote a short note, folded it twice, and left it beside the bowl of oranges.";
export const SYNTHETIC_POSITIONS = 32;
/** Stress strings (src/tokenizer-strings.ts) each engine's tokenizer is compared with llama.cpp's on. */
export const SYNTHETIC_TOKENIZER_STRINGS = 200;

/**
 * Bounds on the synthetic F32 models, against llama.cpp. llama.cpp keeps K and V in an fp16 cache
 * even for F32 weights (and Gemma's GELU goes through its fp16 table), which the exact export does
 * not round: that, not the graph, is the difference left (measured ≤ 0.02; see benchmarks/ENGINES.md).
 */
export const SYNTHETIC_TOLERANCE = { maxAbsDiff: 0.05, minCaptureCosine: 0.9999 } as const;

/**
 * One distinctive feature of each architecture, removed from the export: parity with llama.cpp
 * must then fail, which shows the synthetic weights are not too random to tell the layouts apart.
 */
export const ARCHITECTURE_MUTATIONS: Readonly<Record<string, { readonly what: string; readonly facts: ArchitectureFacts }>> = {
  llama: { what: "q/k rows not un-permuted (NORM RoPE pairs read as NEOX)", facts: { ...ARCHITECTURES.llama!, qkRowLayout: "halves" } },
  qwen2: { what: "q/k rows un-permuted although qwen2 uses NEOX RoPE", facts: { ...ARCHITECTURES.qwen2!, qkRowLayout: "interleaved" } },
  gemma3: { what: "sandwich post-norms dropped", facts: { ...ARCHITECTURES.gemma3!, postNorms: null } },
  phi3: { what: "fused gate-up split in the wrong order (up rows first)", facts: { ...ARCHITECTURES.phi3!, gateUp: "fused-up-first" } },
  olmo2: { what: "q/k norms and post-norms dropped", facts: { ...ARCHITECTURES.olmo2!, qkNorm: null, postNorms: null } },
  granite: {
    what: "embedding, residual, attention and logit multipliers dropped",
    facts: { ...ARCHITECTURES.granite!, multiplierKeys: null },
  },
};

/** One ONNX-based engine against llama.cpp on the same synthetic GGUF. */
export interface EngineAgreement {
  /** Over every position × vocabulary entry, unsteered. */
  readonly maxAbsDiff: number;
  /** Fraction of positions with llama.cpp's argmax, unsteered. */
  readonly top1: number;
  /** Cosine of the middle layer's residual (all positions flattened) with llama.cpp's `l_out`. */
  readonly captureCosine: number;
  /** The same two under the steering vector. */
  readonly steeredMaxAbsDiff: number;
  readonly steeredTop1: number;
}

export interface FamilyParity {
  readonly family: string;
  readonly architecture: string;
  readonly vocabSize: number;
  readonly positions: number;
  readonly captureLayer: number;
  /** The engines' tokenisers give llama.cpp's tokens for the fixed text. */
  readonly tokenizerAgrees: { readonly onnx: boolean; readonly transformersJs: boolean };
  /** Of {@link SYNTHETIC_TOKENIZER_STRINGS} stress strings, how many each engine tokenises exactly as llama.cpp. */
  readonly tokenizerStress: { readonly strings: number; readonly onnx: number; readonly transformersJs: number };
  readonly llamaCpp: {
    /** max |captured(steered) − captured(plain) − vector| at the steered layer: steering lands on l_out, capture reads it. */
    readonly steeringShiftError: number;
    /** max |Δlogit| steered vs unsteered on llama.cpp: the size of the steering effect. */
    readonly steeringEffect: number;
    /** Positions whose argmax the steering changed on llama.cpp. */
    readonly steeringChangedTop1: number;
  };
  readonly onnx: EngineAgreement;
  readonly transformersJs: EngineAgreement;
  /** The export with one feature removed (see {@link ARCHITECTURE_MUTATIONS}), on the ONNX engine. */
  readonly mutation: { readonly what: string; readonly maxAbsDiff: number; readonly top1: number; readonly captureCosine: number };
}

export interface FamilyParityOptions {
  readonly threads?: number;
  readonly onStage?: (stage: string) => void;
}

/**
 * Measures one family: llama.cpp on its synthetic F32 GGUF is the reference; the exact ONNX
 * export (onnxruntime) and transformers.js on the same folder are compared with it unsteered and
 * under a seeded steering vector at the middle layer; then the mutated export.
 */
export async function measureFamilyParity(family: SyntheticFamily, options: FamilyParityOptions = {}): Promise<FamilyParity> {
  const threads = options.threads ?? 2;
  const stage = options.onStage ?? (() => {});
  stage("writing the synthetic GGUF");
  const path = await syntheticGguf(family);
  const opened: SteeringBackend[] = [];
  const work = await mkdtemp(join(tmpdir(), "emosteer-mutation-"));
  try {
    stage("llama.cpp");
    const llama: LlamaCppBackend = await createLlamaCppBackend({ modelPath: path, contextSize: 512, threads });
    opened.push(llama);
    const tokens = (await llama.tokenize(SYNTHETIC_TEXT)).slice(0, SYNTHETIC_POSITIONS);
    if (tokens.length < SYNTHETIC_POSITIONS) throw new Error(`${family.family}: the fixed text gave only ${tokens.length} tokens`);
    const { layerCount, hiddenSize, vocabSize } = llama.model;
    const stress = tokenizerStressStrings(SYNTHETIC_TOKENIZER_STRINGS);
    const stressReference = await Promise.all(stress.map(async (text) => (await llama.tokenize(text)).join()));
    const sameTokens = async (engine: SteeringBackend) => {
      let same = 0;
      for (const [i, text] of stress.entries()) if ((await engine.tokenize(text)).join() === stressReference[i]) same++;
      return same;
    };
    const mid = Math.floor(layerCount / 2);
    const span = { tokens, spanStart: 0, spanEnd: tokens.length, layers: [mid] };
    const reference = await llama.evaluateLogits({ tokens });
    const referenceCapture = (await llama.captureResiduals(span)).data[0]!;

    // A seeded direction at the middle layer, three times as long as the residual there: it moves
    // the logits by whole units and changes argmaxes (Granite's logits are divided by 8, so a
    // residual-sized push changed none), so the steered comparison is not the unsteered one again.
    const direction = seededUnit(hiddenSize, family.seed);
    const residualNorm = Math.sqrt(referenceCapture.reduce((s, x) => s + x * x, 0) / tokens.length);
    const directions = Array.from({ length: layerCount }, (_, l) =>
      l === mid ? direction.map((x) => 3 * x * residualNorm) : new Float32Array(hiddenSize),
    );
    const vector = new EmotionVector({
      emotion: "joy",
      model: llama.model,
      directions,
      provenance: {
        method: "mean-diff",
        settings: { synthetic: true },
        samples: 1,
        corpus: "synthetic",
        corpusHash: "0",
        backend: llama.name,
        createdAt: new Date(0).toISOString(),
      },
    });
    const steering: SteeringSpec = { terms: [{ vector, alpha: 1 }], layers: [mid], injection: "per-layer" };
    const steeredReference = await llama.evaluateLogits({ tokens, steering });
    const steeredCapture = (await llama.captureResiduals({ ...span, steering })).data[0]!;
    let steeringShiftError = 0;
    for (let p = 0; p < tokens.length; p++)
      for (let i = 0; i < hiddenSize; i++)
        steeringShiftError = Math.max(
          steeringShiftError,
          Math.abs(steeredCapture[p * hiddenSize + i]! - referenceCapture[p * hiddenSize + i]! - directions[mid]![i]!),
        );
    const effect = compareLogits(reference, steeredReference, vocabSize);
    const steeringChangedTop1 = Math.round((1 - effect.top1Agreement) * tokens.length);

    stage("ONNX export");
    const { modelDir } = await exportGgufToOnnx({ ggufPath: path, precision: "fp32" });
    stage("ONNX");
    const onnx: OnnxSteeringBackend = await createOnnxBackend({ modelDir, threads });
    opened.push(onnx);
    const onnxAgreement = await agreement(onnx, (t, s) => onnx.logits(t, { steering: s }));
    const onnxTokens = await onnx.tokenize(SYNTHETIC_TEXT);
    const onnxStress = await sameTokens(onnx);
    await onnx.dispose();

    stage("transformers.js");
    const transformers: TransformersSteeringBackend = await createTransformersBackend({ modelDir });
    opened.push(transformers);
    const transformersAgreement = await agreement(transformers, (t, s) => transformers.logits(t, { steering: s }));
    const transformersTokens = await transformers.tokenize(SYNTHETIC_TEXT);
    const transformersStress = await sameTokens(transformers);
    await transformers.dispose();

    stage("mutated export");
    const mutation = ARCHITECTURE_MUTATIONS[family.architecture];
    if (!mutation) throw new Error(`no mutation check is defined for architecture ${family.architecture}`);
    const mutatedDir = join(work, "mutated");
    await exportGgufToOnnx({ ggufPath: path, precision: "fp32", outDir: mutatedDir, architectureFacts: mutation.facts });
    const mutated = await createOnnxBackend({ modelDir: mutatedDir, threads });
    opened.push(mutated);
    const mutatedLogits = compareLogits(reference, await mutated.logits(tokens), vocabSize);
    const mutatedCosine = cosine(referenceCapture, (await mutated.captureResiduals(span)).data[0]!);
    await mutated.dispose();

    const fullTokens = await llama.tokenize(SYNTHETIC_TEXT);
    return {
      family: family.family,
      architecture: family.architecture,
      vocabSize,
      positions: tokens.length,
      captureLayer: mid,
      tokenizerAgrees: { onnx: onnxTokens.join() === fullTokens.join(), transformersJs: transformersTokens.join() === fullTokens.join() },
      tokenizerStress: { strings: stress.length, onnx: onnxStress, transformersJs: transformersStress },
      llamaCpp: { steeringShiftError, steeringEffect: effect.maxAbsDiff, steeringChangedTop1 },
      onnx: onnxAgreement,
      transformersJs: transformersAgreement,
      mutation: {
        what: mutation.what,
        maxAbsDiff: mutatedLogits.maxAbsDiff,
        top1: mutatedLogits.top1Agreement,
        captureCosine: mutatedCosine,
      },
    };

    async function agreement(
      engine: SteeringBackend,
      logits: (tokens: readonly number[], steering: SteeringSpec | null) => Promise<Float32Array>,
    ): Promise<EngineAgreement> {
      const plain = compareLogits(reference, await logits(tokens, null), vocabSize);
      const steered = compareLogits(steeredReference, await logits(tokens, steering), vocabSize);
      const capture = (await engine.captureResiduals(span)).data[0]!;
      return {
        maxAbsDiff: plain.maxAbsDiff,
        top1: plain.top1Agreement,
        captureCosine: cosine(referenceCapture, capture),
        steeredMaxAbsDiff: steered.maxAbsDiff,
        steeredTop1: steered.top1Agreement,
      };
    }
  } finally {
    for (const backend of opened) if (!backend.disposed) await backend.dispose();
    await rm(work, { recursive: true, force: true });
  }
}

/** True when an engine meets the bounds: top-1 = 100 % steered and not, |Δlogit| < τ, capture cosine ≥ 0.9999. */
export function agreementHolds(a: EngineAgreement): boolean {
  return (
    a.top1 === 1 &&
    a.steeredTop1 === 1 &&
    a.maxAbsDiff < SYNTHETIC_TOLERANCE.maxAbsDiff &&
    a.steeredMaxAbsDiff < SYNTHETIC_TOLERANCE.maxAbsDiff &&
    a.captureCosine >= SYNTHETIC_TOLERANCE.minCaptureCosine
  );
}

/** True when the mutated export breaks parity (it must). */
export function mutationDetected(m: FamilyParity["mutation"]): boolean {
  return m.top1 < 1 || m.maxAbsDiff >= SYNTHETIC_TOLERANCE.maxAbsDiff || m.captureCosine < SYNTHETIC_TOLERANCE.minCaptureCosine;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/** A unit vector from a small seeded generator (mulberry32 + Box–Muller), the same on every run. */
function seededUnit(n: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / norm);
}
