import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AbortedError, InvalidFileError } from "@emosteer/core";
import { writeFileAtomic } from "@emosteer/core/node";
import { JUDGE_LABELS, type JudgeLabel, type LabelledText, loadGoEmotions, loadIsear } from "./data.js";
import { type FeatureSettings, featurize, fitIdf, type SparseVector } from "./judge-features.js";
import { scoreClassification } from "./judge-evaluation.js";
import { type LinearModel, linearLogits, softmaxInPlace, type TrainingExample, type TrainingSettings, trainSoftmaxRegression } from "./judge-training.js";
import { dataFile, resolveCacheDir, resolveDataDir } from "./paths.js";
import { seededRandom, shuffleInPlace } from "./random.js";

/** Everything that decides the trained judge; hashed (with the data files) into the cache key. */
export interface JudgeSettings {
  readonly features: FeatureSettings;
  readonly training: TrainingSettings;
  /** Share of ISEAR rows held out from training for evaluation (chosen by a hash of MYKEY). */
  readonly isearHeldOutShare: number;
  /**
   * Share of the training rows set aside to tune per-class logit offsets for macro-F1
   * (the judge is then retrained on all rows and keeps the offsets). 0 disables tuning.
   */
  readonly priorTuneShare: number;
}

/** The judge's default (best measured) settings; see benchmarks/judge.md. */
export const DEFAULT_JUDGE_SETTINGS: JudgeSettings = {
  features: { hashBits: 20, wordNgrams: [1, 2], charNgrams: [2, 5], charWeight: 1 },
  training: { optimizer: "sgd", epochs: 25, learningRate: 2, l2: 1e-5, classWeightPower: 0.5, seed: 1 },
  isearHeldOutShare: 0.2,
  priorTuneShare: 0.1,
};

/** Bump when the training code or file layout changes so old caches are not reused. */
const FORMAT_VERSION = 1;
const MAGIC = "EMJUDGE1";

/** Per-class probabilities for one text. */
export interface JudgeScore {
  /** Probability per class; sums to 1. */
  readonly probabilities: Readonly<Record<JudgeLabel, number>>;
  /** Class with the highest probability. */
  readonly label: JudgeLabel;
}

export interface JudgeProgress {
  readonly stage: "loading" | "features" | "training" | "tuning" | "saving";
  readonly message: string;
}

interface JudgeHeader {
  readonly formatVersion: number;
  readonly labels: readonly string[];
  readonly settings: JudgeSettings;
  readonly bias: readonly number[];
  readonly priorOffsets: readonly number[];
  readonly trainingRows: number;
}

/**
 * The emotion classifier used as judge: multinomial logistic regression over hashed TF-IDF word and
 * character n-grams, trained on GoEmotions-Ekman train plus ISEAR (see docs/metrics.md).
 * Empty or symbol-only text has no features and gets the judge's prior (bias) distribution.
 */
export class EmotionJudge {
  readonly labels: readonly JudgeLabel[] = JUDGE_LABELS;
  /** sha256 of the weights, biases and offsets: equal hashes mean identical judges. */
  readonly weightsHash: string;
  readonly #logits = new Float64Array(JUDGE_LABELS.length);

  /** @internal use {@link createJudge}, {@link loadJudge} or {@link trainJudge}. */
  constructor(
    readonly settings: JudgeSettings,
    private readonly idf: Float32Array,
    private readonly model: LinearModel,
    private readonly priorOffsets: Float32Array,
    readonly trainingRows: number,
  ) {
    const h = createHash("sha256");
    for (const a of [model.weights, model.bias, priorOffsets]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    this.weightsHash = h.digest("hex");
  }

  /** Probabilities in {@link JUDGE_LABELS} order. Non-string input throws a TypeError. */
  probabilities(text: string): Float32Array {
    if (typeof text !== "string") throw new TypeError(`Judge input must be a string, got ${typeof text}`);
    return this.#probabilities(featurize(text, this.settings.features, this.idf));
  }

  /** Probabilities and top class for one text. */
  classify(text: string): JudgeScore {
    const p = this.probabilities(text);
    let best = 0;
    for (let c = 1; c < p.length; c++) if (p[c]! > p[best]!) best = c;
    const probabilities = Object.fromEntries(this.labels.map((l, c) => [l, p[c]!])) as Record<JudgeLabel, number>;
    return { probabilities, label: this.labels[best]! };
  }

  /** {@link classify} for many texts. */
  classifyMany(texts: readonly string[]): JudgeScore[] {
    return texts.map((t) => this.classify(t));
  }

  #probabilities(x: SparseVector): Float32Array {
    const classes = this.labels.length;
    linearLogits(this.model, x, classes, this.#logits);
    for (let c = 0; c < classes; c++) this.#logits[c]! += this.priorOffsets[c]!;
    softmaxInPlace(this.#logits);
    return Float32Array.from(this.#logits);
  }

  /** Binary file: magic, header JSON, IDF and weights as float32, then a sha256 of all before it. */
  serialize(): Uint8Array {
    const header: JudgeHeader = {
      formatVersion: FORMAT_VERSION,
      labels: this.labels,
      settings: this.settings,
      bias: Array.from(this.model.bias),
      priorOffsets: Array.from(this.priorOffsets),
      trainingRows: this.trainingRows,
    };
    let json = Buffer.from(JSON.stringify(header), "utf8");
    const pad = (4 - ((MAGIC.length + 4 + json.length) % 4)) % 4;
    json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
    const lengthField = Buffer.alloc(4);
    lengthField.writeUInt32LE(json.length);
    const body = Buffer.concat([
      Buffer.from(MAGIC, "ascii"),
      lengthField,
      json,
      Buffer.from(this.idf.buffer, this.idf.byteOffset, this.idf.byteLength),
      Buffer.from(this.model.weights.buffer, this.model.weights.byteOffset, this.model.weights.byteLength),
    ]);
    return Buffer.concat([body, createHash("sha256").update(body).digest()]);
  }

  /** Parse and validate {@link serialize}'s output; throws {@link InvalidFileError} naming `path` when corrupt. */
  static deserialize(bytes: Uint8Array, path = "<judge>"): EmotionJudge {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const corrupt = (reason: string, offset?: number) =>
      new InvalidFileError(path, `${reason}; the cached judge is corrupt: delete it (createJudge retrains)`, offset);
    if (buf.length < MAGIC.length + 4 + 32 || buf.toString("ascii", 0, MAGIC.length) !== MAGIC) throw corrupt("not a judge file (bad magic)", 0);
    const body = buf.subarray(0, buf.length - 32);
    if (!createHash("sha256").update(body).digest().equals(buf.subarray(buf.length - 32))) throw corrupt("checksum mismatch (truncated or altered)");
    const jsonLength = buf.readUInt32LE(MAGIC.length);
    const jsonStart = MAGIC.length + 4;
    let header: JudgeHeader;
    try {
      header = JSON.parse(buf.toString("utf8", jsonStart, jsonStart + jsonLength)) as JudgeHeader;
    } catch {
      throw corrupt("header is not JSON", jsonStart);
    }
    if (header.formatVersion !== FORMAT_VERSION) throw corrupt(`format version ${header.formatVersion}, expected ${FORMAT_VERSION}`);
    if (header.labels.join(",") !== JUDGE_LABELS.join(",")) throw corrupt(`labels ${header.labels.join(",")}`);
    const classes = JUDGE_LABELS.length;
    const features = 1 << header.settings.features.hashBits;
    const dataStart = jsonStart + jsonLength;
    const expected = dataStart + 4 * features * (1 + classes);
    if (body.length !== expected) throw corrupt(`body is ${body.length} bytes, expected ${expected}`);
    const floats = new Float32Array(body.buffer.slice(body.byteOffset + dataStart, body.byteOffset + expected));
    for (let i = 0; i < floats.length; i++) if (!Number.isFinite(floats[i]!)) throw corrupt(`non-finite value at float ${i}`);
    return new EmotionJudge(
      header.settings,
      floats.subarray(0, features),
      { weights: floats.subarray(features), bias: Float32Array.from(header.bias) },
      Float32Array.from(header.priorOffsets),
      header.trainingRows,
    );
  }
}

export interface TrainJudgeOptions {
  /** Data folder. Defaults to `EMOSTEER_DATA_DIR` or `<repo>/../shared/data`. */
  readonly dataDir?: string;
  /** Defaults to {@link DEFAULT_JUDGE_SETTINGS}. */
  readonly settings?: JudgeSettings;
  /** Train on a seeded random subset of this many rows (for fast tests). Defaults to all rows. */
  readonly limit?: number;
  readonly onProgress?: (progress: JudgeProgress) => void;
  readonly signal?: AbortSignal;
}

/** 32-bit FNV-1a of a string, used for stable hash-based splits. */
function stableHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** ISEAR rows split by a hash of their MYKEY: `heldOut` gets about `share` of them, the same on every run. */
export function splitIsear(rows: readonly LabelledText[], share: number): { train: LabelledText[]; heldOut: LabelledText[] } {
  const train: LabelledText[] = [];
  const heldOut: LabelledText[] = [];
  for (const r of rows) ((stableHash(r.id) % 10_000) / 10_000 < share ? heldOut : train).push(r);
  return { train, heldOut };
}

/**
 * Multi-label rows become soft targets: probability 1/k on each of their k labels (the judge learns
 * that such a text is as much one as the other), rather than dropping or duplicating them.
 */
function softTarget(labels: readonly number[]): Float32Array {
  const t = new Float32Array(JUDGE_LABELS.length);
  for (const l of labels) t[l] = 1 / labels.length;
  return t;
}

/** Train a judge from the data folder (no cache). Deterministic for given data and settings. */
export function trainJudge(options: TrainJudgeOptions = {}): EmotionJudge {
  const settings = options.settings ?? DEFAULT_JUDGE_SETTINGS;
  const report = options.onProgress ?? (() => {});
  const check = () => {
    if (options.signal?.aborted) throw new AbortedError("Judge training");
  };
  const dataDir = resolveDataDir(options.dataDir);
  report({ stage: "loading", message: `reading GoEmotions and ISEAR from ${dataDir}` });
  const isear = splitIsear(loadIsear(dataDir), settings.isearHeldOutShare).train;
  let rows = [...loadGoEmotions(dataDir, "train"), ...isear];
  const random = seededRandom(settings.training.seed ^ 0x5eed);
  shuffleInPlace(rows, random);
  if (options.limit !== undefined) rows = rows.slice(0, options.limit);
  const classes = JUDGE_LABELS.length;
  const featureCount = 1 << settings.features.hashBits;

  report({ stage: "features", message: `featurising ${rows.length} rows` });
  const idf = fitIdf(
    rows.map((r) => r.text),
    settings.features,
  );
  check();
  const examples: TrainingExample[] = rows.map((r) => ({ x: featurize(r.text, settings.features, idf), target: softTarget(r.labels) }));
  check();

  let offsets: Float32Array = new Float32Array(classes);
  if (settings.priorTuneShare > 0) {
    const tuneCount = Math.max(1, Math.round(rows.length * settings.priorTuneShare));
    report({ stage: "training", message: `training on ${rows.length - tuneCount} rows to tune class offsets on ${tuneCount}` });
    const partial = trainSoftmaxRegression(examples.slice(tuneCount), featureCount, classes, settings.training, {
      signal: options.signal,
      onProgress: (epoch, loss) => report({ stage: "training", message: `offset model epoch ${epoch}/${settings.training.epochs} loss ${loss.toFixed(4)}` }),
    });
    report({ stage: "tuning", message: "tuning per-class offsets for macro-F1" });
    offsets = tuneOffsets(partial, examples.slice(0, tuneCount), rows.slice(0, tuneCount), classes);
  }
  check();
  report({ stage: "training", message: `training on ${rows.length} rows` });
  const model = trainSoftmaxRegression(examples, featureCount, classes, settings.training, {
    signal: options.signal,
    onProgress: (epoch, loss) => report({ stage: "training", message: `epoch ${epoch}/${settings.training.epochs} loss ${loss.toFixed(4)}` }),
  });
  return new EmotionJudge(settings, idf, model, offsets, rows.length);
}

/** Coordinate ascent on per-class logit offsets (grid −2..2) to maximise macro-F1 on the tuning rows. */
function tuneOffsets(model: LinearModel, examples: readonly TrainingExample[], rows: readonly LabelledText[], classes: number): Float32Array {
  const logits = examples.map((e) => {
    const out = new Float64Array(classes);
    linearLogits(model, e.x, classes, out);
    return out;
  });
  const gold = rows.map((r) => r.labels);
  const offsets = new Float64Array(classes);
  const score = () => {
    const predicted = logits.map((l) => {
      let best = 0;
      for (let c = 1; c < classes; c++) if (l[c]! + offsets[c]! > l[best]! + offsets[best]!) best = c;
      return best;
    });
    return scoreClassification(gold, predicted, classes).macroF1;
  };
  let best = score();
  for (let round = 0; round < 3; round++) {
    for (let c = 0; c < classes; c++) {
      const start = offsets[c]!;
      let bestValue = start;
      for (let v = -2; v <= 2.0001; v += 0.1) {
        offsets[c] = v;
        const s = score();
        if (s > best + 1e-9) {
          best = s;
          bestValue = v;
        }
      }
      offsets[c] = bestValue;
    }
  }
  return Float32Array.from(offsets);
}

export interface CreateJudgeOptions extends Omit<TrainJudgeOptions, "limit"> {
  /** Cache folder; the judge lives at `<cacheDir>/judge/<key>.bin`. Defaults to `EMOSTEER_CACHE_DIR` or `~/.cache/emosteer`. */
  readonly cacheDir?: string;
}

/** Cache file path for the data files and settings (the key hashes both, and the format version). */
export function judgeCachePath(options: { dataDir?: string; cacheDir?: string; settings?: JudgeSettings } = {}): string {
  const dataDir = resolveDataDir(options.dataDir);
  const h = createHash("sha256");
  h.update(`format ${FORMAT_VERSION}\n${JSON.stringify(options.settings ?? DEFAULT_JUDGE_SETTINGS)}\n`);
  for (const f of ["goemotions-ekman/labels.txt", "goemotions-ekman/train.tsv", "isear/isear.csv"]) {
    h.update(createHash("sha256").update(readFileSync(dataFile(dataDir, f))).digest());
  }
  return join(resolveCacheDir(options.cacheDir), "judge", `${h.digest("hex").slice(0, 32)}.bin`);
}

/** Load a judge file written by {@link createJudge}; throws {@link InvalidFileError} when it is corrupt. */
export function loadJudge(path: string): EmotionJudge {
  if (!existsSync(path)) throw new InvalidFileError(path, "no judge file here: create one with createJudge()");
  return EmotionJudge.deserialize(readFileSync(path), path);
}

/**
 * The judge for the current data and settings: loaded from the cache when present and valid,
 * else trained (about a minute) and cached atomically. A corrupt cache file is reported through
 * `onProgress` and replaced by a fresh training.
 */
export async function createJudge(options: CreateJudgeOptions = {}): Promise<EmotionJudge> {
  const path = judgeCachePath(options);
  const report = options.onProgress ?? (() => {});
  if (existsSync(path)) {
    try {
      const judge = loadJudge(path);
      report({ stage: "loading", message: `loaded cached judge ${path}` });
      return judge;
    } catch (error) {
      if (!(error instanceof InvalidFileError)) throw error;
      report({ stage: "loading", message: `${error.message}; retraining` });
    }
  }
  const judge = trainJudge(options);
  report({ stage: "saving", message: `caching judge at ${path}` });
  await writeFileAtomic(path, judge.serialize());
  return judge;
}
