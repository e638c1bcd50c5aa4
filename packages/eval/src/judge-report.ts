import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { EmosteerError } from "@emosteer/core";
import { writeFileAtomic } from "@emosteer/core/node";
import { JUDGE_LABELS, type JudgeLabel, type LabelledText, loadGoEmotions, loadIsear } from "./data.js";
import { EmbeddingCache } from "./embedding/embedding-cache.js";
import { loadOnnxSentenceEmbedder } from "./embedding/minilm-onnx.js";
import { DEFAULT_INDOMAIN_DIR, INDOMAIN_STYLES, loadContrastCorpus, loadInDomain } from "./indomain-data.js";
import {
  COMMITTED_JUDGE_PATH,
  type CreateJudgeOptions,
  createJudge,
  EmotionJudge,
  type JudgeProgress,
  judgeCachePath,
  loadJudge,
  type JudgeName,
  saveJudge,
  splitIsear,
  trainJudge,
  V2_JUDGE_SETTINGS,
} from "./judge.js";
import { scoreClassification } from "./judge-evaluation.js";
import { cosineSimilarity } from "./metrics.js";
import { repoRoot, resolveCacheDir, resolveDataDir } from "./paths.js";

/** Reliability bins of the top-class probability. */
const BINS = 10;
const EMOTIONS: readonly JudgeLabel[] = ["joy", "anger", "disgust", "fear", "sadness"];

export interface ReliabilityBin {
  readonly from: number;
  readonly to: number;
  readonly count: number;
  /** Mean top-class probability in the bin. */
  readonly confidence: number;
  /** Share of the bin's rows whose top class is a gold label. */
  readonly accuracy: number;
}

/** Scores of one judge on one labelled set. */
export interface SetScores {
  readonly rows: number;
  /** The set's own classes (those its gold labels use); macro-F1 averages over these. */
  readonly classes: readonly JudgeLabel[];
  readonly macro_f1: number;
  readonly accuracy: number;
  readonly per_class_f1: Readonly<Record<string, number>>;
  readonly per_class_recall: Readonly<Record<string, number>>;
  /** Mean probability the judge gives each row's gold label, per gold class (what EPS reads). */
  readonly mean_gold_probability: Readonly<Record<string, number>>;
  /** `confusion[i][j]`: rows of gold class `classes[i]` predicted `JUDGE_LABELS[j]`. */
  readonly confusion: readonly (readonly number[])[];
  /** Expected calibration error of the top-class probability, 10 equal bins. */
  readonly ece: number;
  readonly reliability: readonly ReliabilityBin[];
  /** Share of neutral rows whose top class is not neutral (sets with neutral rows only). */
  readonly neutral_as_emotion?: number;
}

/** Score predicted probabilities against gold label sets (multi-label rule of {@link scoreClassification}). */
export function scoreSet(gold: readonly (readonly number[])[], probabilities: readonly ArrayLike<number>[]): SetScores {
  const K = JUDGE_LABELS.length;
  const predicted = probabilities.map((p) => {
    let best = 0;
    for (let c = 1; c < K; c++) if (p[c]! > p[best]!) best = c;
    return best;
  });
  const s = scoreClassification(gold, predicted, K);
  const present = JUDGE_LABELS.map((_, c) => c).filter((c) => gold.some((g) => g.includes(c)));
  const recall: Record<string, number> = {};
  const goldProbability: Record<string, number> = {};
  for (const c of present) {
    const rows = gold.map((g, i) => [g, i] as const).filter(([g]) => g.includes(c));
    recall[JUDGE_LABELS[c]!] = rows.filter(([, i]) => predicted[i] === c).length / rows.length;
    goldProbability[JUDGE_LABELS[c]!] = rows.reduce((a, [, i]) => a + probabilities[i]![c]!, 0) / rows.length;
  }
  const confusion = present.map(() => new Array<number>(K).fill(0));
  gold.forEach((g, i) => {
    const p = predicted[i]!;
    const row = present.indexOf(g.includes(p) ? p : g[0]!);
    confusion[row]![p]!++;
  });
  const bins = Array.from({ length: BINS }, (_, b) => ({ from: b / BINS, to: (b + 1) / BINS, count: 0, confidence: 0, accuracy: 0 }));
  probabilities.forEach((p, i) => {
    const conf = p[predicted[i]!]!;
    const bin = bins[Math.min(BINS - 1, Math.floor(conf * BINS))]!;
    bin.count++;
    bin.confidence += conf;
    bin.accuracy += gold[i]!.includes(predicted[i]!) ? 1 : 0;
  });
  let ece = 0;
  for (const b of bins) {
    if (b.count === 0) continue;
    b.confidence /= b.count;
    b.accuracy /= b.count;
    ece += (b.count / gold.length) * Math.abs(b.accuracy - b.confidence);
  }
  const neutral = JUDGE_LABELS.indexOf("neutral");
  const neutralRows = gold.map((g, i) => [g, i] as const).filter(([g]) => g.length === 1 && g[0] === neutral);
  return {
    rows: gold.length,
    classes: present.map((c) => JUDGE_LABELS[c]!),
    macro_f1: present.reduce((a, c) => a + s.perClassF1[c]!, 0) / Math.max(1, present.length),
    accuracy: s.accuracy,
    per_class_f1: Object.fromEntries(present.map((c) => [JUDGE_LABELS[c]!, s.perClassF1[c]!])),
    per_class_recall: recall,
    mean_gold_probability: goldProbability,
    confusion,
    ece,
    reliability: bins,
    ...(neutralRows.length > 0
      ? { neutral_as_emotion: neutralRows.filter(([, i]) => predicted[i] !== neutral).length / neutralRows.length }
      : {}),
  };
}

/** Every set one judge is measured on. */
export interface JudgeEvaluation {
  readonly name: string;
  readonly id: string;
  readonly settings: EmotionJudge["settings"];
  readonly temperature: number;
  readonly training_rows: number;
  readonly data_files: EmotionJudge["dataFiles"];
  readonly indomain_dev: SetScores & { readonly by_style: Readonly<Record<string, SetScores>> };
  readonly contrast_corpus: SetScores;
  readonly goemotions_dev: SetScores;
  readonly isear_heldout: SetScores;
  readonly throughput: {
    /** Whole judge (tokenise, MiniLM on 2 threads, n-grams, softmax) on the 600 contrast-corpus answers, no embedding cache. */
    readonly texts_per_s: number;
    /** The same per CPU-second of the process (user + system, all threads): on an idle 2-core machine, wall texts/s ≈ 2 × this at best. */
    readonly texts_per_cpu_s: number;
    /** The same on 1,000 GoEmotions dev comments (short texts). */
    readonly goemotions_texts_per_s: number;
    readonly goemotions_texts_per_cpu_s: number;
    /** 1-minute load average when measured (the machine is shared). */
    readonly load_average: number;
    /** Where the time of one pass over the 600 answers goes (ms of wall time, each part timed alone). */
    readonly breakdown?: {
      readonly tokenize_ms: number;
      readonly encoder_ms: number;
      /** The encoder's texts per CPU-second (same pass as encoder_ms). */
      readonly encoder_texts_per_cpu_s?: number;
      readonly ngrams_ms: number;
      readonly whole_ms: number;
    };
    /** The fp32 MiniLM graph (v2's first encoder: plain ONNX ops, batches of 32) alone on the same answers, for comparison. */
    readonly fp32_encoder?: { readonly texts_per_s: number; readonly texts_per_cpu_s: number };
    /**
     * The int8-row graph (per-token activation scales, so batches do not change an embedding) alone on the same
     * answers, one text per run and in length-sorted batches of 8, timed right after the judge's own encoder.
     */
    readonly int8_row_encoder?: Readonly<Record<"batch_1" | "batch_8", { readonly texts_per_s: number; readonly texts_per_cpu_s: number }>>;
    /**
     * The whole judge on the 600 answers with its encoder in 2 worker threads (one session of one intra-op
     * thread each: the default) and on the calling thread (one session, 2 intra-op threads: the first v2
     * path), in alternating rounds of one run, summed over the rounds.
     */
    readonly encoder_paths?: Readonly<
      Record<"workers" | "caller", { readonly texts_per_s: number; readonly texts_per_cpu_s: number; readonly rounds: number }>
    >;
  };
  /** The int8 encoder's embeddings against the fp32 graph's on the 600 contrast-corpus answers (v2 with an int8 encoder). */
  readonly embedding_agreement?: { readonly texts: number; readonly mean_cosine: number; readonly min_cosine: number };
}

interface LabelledSet {
  readonly rows: readonly LabelledText[];
}

async function judgeSet(judge: EmotionJudge, rows: readonly LabelledText[], cache: EmbeddingCache | null): Promise<Float32Array[]> {
  const texts = rows.map((r) => r.text);
  if (!judge.usesEmbeddings || !cache) return judge.probabilitiesMany(texts);
  const embeddings = await cache.embedAll(await judge.embedder(), texts);
  return judge.probabilitiesMany(texts, { embeddings });
}

/** Wall-clock texts/s of `run`, and texts per CPU-second of this process (all threads), which depends less on what else the machine runs. */
async function timed(
  texts: readonly string[],
  run: (texts: readonly string[]) => Promise<unknown>,
): Promise<{ wall: number; cpu: number; ms: number }> {
  await run(texts.slice(0, 16)); // warm-up (session, JIT)
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  await run(texts);
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  return { wall: texts.length / (ms / 1000), cpu: texts.length / ((cpu.user + cpu.system) / 1e6), ms };
}

function textsPerSecond(judge: EmotionJudge, texts: readonly string[]): Promise<{ wall: number; cpu: number; ms: number }> {
  return timed(texts, (t) => judge.probabilitiesMany(t));
}

/** Each stage of the whole judge timed alone on `texts`, and the fp32 encoder for comparison (judges with embeddings only). */
async function speedBreakdown(judge: EmotionJudge, texts: readonly string[], whole: number) {
  const embedder = await judge.embedder();
  const tokenize = await timed(texts, async (t) => {
    for (const x of t)
      if (embedder.sentences) embedder.tokenizeSentences(x);
      else embedder.tokenize(x);
  });
  const encoder = await timed(texts, (t) => embedder.embedMany(t));
  const ngrams = await timed(texts, async (t) => {
    for (const x of t) judge.ngramFeatures(x);
  });
  const rowSpeed: Record<string, { texts_per_s: number; texts_per_cpu_s: number }> = {};
  for (const batchSize of [1, 8]) {
    const rows = await loadOnnxSentenceEmbedder({ precision: "int8-row", batchSize });
    try {
      const t = await timed(texts, (x) => rows.embedMany(x));
      rowSpeed[`batch_${batchSize}`] = { texts_per_s: t.wall, texts_per_cpu_s: t.cpu };
    } finally {
      await rows.dispose();
    }
  }
  const int8Row = rowSpeed as NonNullable<JudgeEvaluation["throughput"]["int8_row_encoder"]>;
  const fp32 = await loadOnnxSentenceEmbedder({ precision: "fp32" });
  try {
    const fp32Speed = await timed(texts, (t) => fp32.embedMany(t));
    let agreement: JudgeEvaluation["embedding_agreement"];
    if (judge.settings.embedding?.precision === "int8") {
      const [a, b] = [await fp32.embedMany(texts), await embedder.embedMany(texts)];
      const cos = a.map((v, i) => cosineSimilarity(v, b[i]!.subarray(0, v.length)));
      agreement = { texts: texts.length, mean_cosine: cos.reduce((x, y) => x + y, 0) / cos.length, min_cosine: Math.min(...cos) };
    }
    return {
      breakdown: {
        tokenize_ms: tokenize.ms,
        encoder_ms: encoder.ms,
        encoder_texts_per_cpu_s: encoder.cpu,
        ngrams_ms: ngrams.ms,
        whole_ms: whole,
      },
      fp32_encoder: { texts_per_s: fp32Speed.wall, texts_per_cpu_s: fp32Speed.cpu },
      int8_row_encoder: int8Row,
      agreement,
    };
  } finally {
    await fp32.dispose();
  }
}

/** Evaluate a judge on every set: in-domain dev (and by style), the contrast corpus, GoEmotions dev, held-out ISEAR. */
export async function evaluateJudge(
  judge: EmotionJudge,
  options: { dataDir?: string; inDomainDir?: string; cacheDir?: string; onProgress?: (p: JudgeProgress) => void } = {},
): Promise<JudgeEvaluation> {
  const report = options.onProgress ?? (() => {});
  const dataDir = resolveDataDir(options.dataDir);
  const cache = judge.usesEmbeddings
    ? EmbeddingCache.open(resolveCacheDir(options.cacheDir), (await judge.embedder()).modelId, (await judge.embedder()).dimensions)
    : null;
  const score = async (name: string, set: LabelledSet) => {
    report({ stage: "loading", message: `judge ${judge.name}: scoring ${name} (${set.rows.length} rows)` });
    return { probabilities: await judgeSet(judge, set.rows, cache), gold: set.rows.map((r) => r.labels) };
  };
  const dev = loadInDomain("dev", options.inDomainDir ?? DEFAULT_INDOMAIN_DIR);
  const devScored = await score("in-domain dev", { rows: dev });
  const byStyle: Record<string, SetScores> = {};
  for (const style of INDOMAIN_STYLES) {
    const idx = dev.map((r, i) => [r, i] as const).filter(([r]) => r.style === style);
    if (idx.length > 0)
      byStyle[style] = scoreSet(
        idx.map(([, i]) => devScored.gold[i]!),
        idx.map(([, i]) => devScored.probabilities[i]!),
      );
  }
  const contrast = loadContrastCorpus();
  const contrastScored = await score("contrast corpus", { rows: contrast });
  const goemotions = loadGoEmotions(dataDir, "dev");
  const goScored = await score("GoEmotions dev", { rows: goemotions });
  const isear = splitIsear(loadIsear(dataDir), judge.settings.isearHeldOutShare).heldOut;
  const isearScored = await score("ISEAR held-out", { rows: isear });
  const throughput = await measureThroughput(judge, { ...options, onProgress: report });
  return {
    name: judge.name,
    id: judge.id,
    settings: judge.settings,
    temperature: judge.temperature,
    training_rows: judge.trainingRows,
    data_files: judge.dataFiles,
    indomain_dev: { ...scoreSet(devScored.gold, devScored.probabilities), by_style: byStyle },
    contrast_corpus: scoreSet(contrastScored.gold, contrastScored.probabilities),
    goemotions_dev: scoreSet(goScored.gold, goScored.probabilities),
    isear_heldout: scoreSet(isearScored.gold, isearScored.probabilities),
    throughput: throughput.throughput,
    ...(throughput.agreement ? { embedding_agreement: throughput.agreement } : {}),
  };
}

/** Rounds of {@link encoderPaths}. */
const PATH_ROUNDS = 3;

/**
 * The whole judge on `texts` with its encoder in worker threads and on the calling thread, in
 * alternating rounds (so both see the same machine load), both from the judge's own settings.
 */
async function encoderPaths(judge: EmotionJudge, texts: readonly string[]) {
  // Two copies of the judge (same bytes, same id), one per encoder path, both loaded for the whole comparison.
  const copy = (encoder: EmotionJudge["encoder"]) => {
    const j = EmotionJudge.deserialize(judge.serialize(), `judge ${judge.name}`);
    j.encoder = encoder;
    return j;
  };
  const judges = { workers: copy({}), caller: copy({ thread: "caller" }) };
  try {
    const sums = { workers: { ms: 0, cpu: 0, n: 0 }, caller: { ms: 0, cpu: 0, n: 0 } };
    for (let round = 0; round < PATH_ROUNDS; round++)
      for (const path of round % 2 === 0 ? (["caller", "workers"] as const) : (["workers", "caller"] as const)) {
        const t = await textsPerSecond(judges[path], texts);
        sums[path].ms += t.ms;
        sums[path].cpu += texts.length / t.cpu;
        sums[path].n += texts.length;
      }
    const figure = (s: { ms: number; cpu: number; n: number }) => ({
      texts_per_s: s.n / (s.ms / 1000),
      texts_per_cpu_s: s.n / s.cpu,
      rounds: PATH_ROUNDS,
    });
    return { workers: figure(sums.workers), caller: figure(sums.caller) };
  } finally {
    await judges.workers.dispose();
    await judges.caller.dispose();
  }
}

/** The speed figures of a judge: the whole judge on the contrast corpus and GoEmotions dev, and (with embeddings) where its time goes. */
async function measureThroughput(
  judge: EmotionJudge,
  options: { dataDir?: string; onProgress?: (p: JudgeProgress) => void },
): Promise<{ throughput: JudgeEvaluation["throughput"]; agreement?: JudgeEvaluation["embedding_agreement"] }> {
  const report = options.onProgress ?? (() => {});
  const contrast = loadContrastCorpus().map((r) => r.text);
  const comments = loadGoEmotions(resolveDataDir(options.dataDir), "dev")
    .slice(0, 1000)
    .map((r) => r.text);
  report({ stage: "loading", message: `judge ${judge.name}: measuring texts/s` });
  const answers = await textsPerSecond(judge, contrast);
  const short = await textsPerSecond(judge, comments);
  const load = os.loadavg()[0]!;
  let extra: Awaited<ReturnType<typeof speedBreakdown>> | undefined;
  let paths: Awaited<ReturnType<typeof encoderPaths>> | undefined;
  if (judge.usesEmbeddings) {
    report({ stage: "loading", message: `judge ${judge.name}: timing each stage and the other encoders` });
    extra = await speedBreakdown(judge, contrast, answers.ms);
    report({ stage: "loading", message: `judge ${judge.name}: worker threads against the calling thread, ${PATH_ROUNDS} rounds` });
    paths = await encoderPaths(judge, contrast);
  }
  return {
    throughput: {
      texts_per_s: answers.wall,
      texts_per_cpu_s: answers.cpu,
      goemotions_texts_per_s: short.wall,
      goemotions_texts_per_cpu_s: short.cpu,
      load_average: load,
      ...(extra ? { breakdown: extra.breakdown, fp32_encoder: extra.fp32_encoder, int8_row_encoder: extra.int8_row_encoder } : {}),
      ...(paths ? { encoder_paths: paths } : {}),
    },
    ...(extra?.agreement ? { agreement: extra.agreement } : {}),
  };
}

export interface JudgeReportOptions extends Omit<CreateJudgeOptions, "settings" | "judge" | "judgeFile"> {
  /** Folder for judge.md, judge.json and plots/. Defaults to `<repo>/benchmarks`. */
  readonly outDir?: string;
  /** Retrain v2 on all data present and rewrite the committed judge file first (default true). */
  readonly retrain?: boolean;
  /** Where the v2 judge file goes. Defaults to {@link COMMITTED_JUDGE_PATH}. */
  readonly judgeFile?: string;
  /**
   * Re-time the judges only: read judge.json, check that its judges are the ones loaded now (same ids),
   * measure their speed again and rewrite judge.json and judge.md with only the speed figures changed
   * (no training, no scoring of the sets; `retrain` is ignored).
   */
  readonly speedOnly?: boolean;
  /**
   * Only re-render judge.md from judge.json (nothing trained, scored or timed), e.g. after a settings
   * search wrote benchmarks/judge-search.json; refuses when judge.json's judges are not the ones loaded.
   */
  readonly markdownOnly?: boolean;
}

const f3 = (x: number | undefined) => (x === undefined ? "–" : x.toFixed(3));
const pct = (x: number | undefined) => (x === undefined ? "–" : `${(100 * x).toFixed(1)} %`);

interface Target {
  readonly key: string;
  readonly what: string;
  readonly goal: string;
  readonly value: number | undefined;
  readonly met: boolean;
}

function targets(e: JudgeEvaluation): Target[] {
  const t: Target[] = [];
  const add = (key: string, what: string, goal: string, value: number | undefined, met: (v: number) => boolean) =>
    t.push({ key, what, goal, value, met: value !== undefined && met(value) });
  add("indomain_dev.macro_f1", "in-domain dev macro-F1 (6 classes)", "≥ 0.85", e.indomain_dev.macro_f1, (v) => v >= 0.85);
  for (const style of ["strong", "mild"] as const) {
    const goal = style === "strong" ? 0.8 : 0.6;
    for (const emotion of EMOTIONS) {
      add(
        `indomain_dev.by_style.${style}.per_class_recall.${emotion}`,
        `recall of ${emotion}, ${style} answers`,
        `≥ ${goal}`,
        e.indomain_dev.by_style[style]?.per_class_recall[emotion],
        (v) => v >= goal,
      );
    }
  }
  add(
    "indomain_dev.neutral_as_emotion",
    "neutral dev answers read as an emotion",
    "≤ 10 %",
    e.indomain_dev.neutral_as_emotion,
    (v) => v <= 0.1,
  );
  add("indomain_dev.ece", "in-domain dev ECE", "≤ 0.05", e.indomain_dev.ece, (v) => v <= 0.05);
  add("goemotions_dev.macro_f1", "GoEmotions-Ekman dev macro-F1 (7 classes)", "≥ 0.58", e.goemotions_dev.macro_f1, (v) => v >= 0.58);
  add(
    "throughput.texts_per_s",
    `texts/s, whole judge, 2 threads (contrast-corpus answers; ${e.throughput.texts_per_cpu_s.toFixed(0)} per CPU-second, measured at load average ${e.throughput.load_average.toFixed(1)})`,
    "≥ 300",
    e.throughput.texts_per_s,
    (v) => v >= 300,
  );
  return t;
}

function setTable(
  title: string,
  key: string,
  results: readonly JudgeEvaluation[],
  pick: (e: JudgeEvaluation) => SetScores | undefined,
): string[] {
  const first = results.map(pick).find((s) => s !== undefined);
  if (!first) return [`### ${title}`, "", "No rows.", ""];
  const classes = first.classes;
  const out = [`### ${title} (\`${key}\`, ${first.rows} rows)`, ""];
  out.push(
    `| judge | macro-F1 | accuracy | ECE |${classes.map((c) => ` F1 ${c} |`).join("")}${classes.map((c) => ` recall ${c} |`).join("")}${first.neutral_as_emotion !== undefined ? " neutral read as emotion |" : ""}`,
  );
  out.push(
    `| --- | --- | --- | --- |${classes.map(() => " --- |").join("")}${classes.map(() => " --- |").join("")}${first.neutral_as_emotion !== undefined ? " --- |" : ""}`,
  );
  for (const e of results) {
    const s = pick(e);
    if (!s) continue;
    out.push(
      `| ${e.name} | **${f3(s.macro_f1)}** | ${f3(s.accuracy)} | ${f3(s.ece)} |${classes.map((c) => ` ${f3(s.per_class_f1[c])} |`).join("")}${classes.map((c) => ` ${f3(s.per_class_recall[c])} |`).join("")}${s.neutral_as_emotion !== undefined ? ` ${pct(s.neutral_as_emotion)} |` : ""}`,
    );
  }
  out.push("");
  for (const e of results) {
    const s = pick(e);
    if (!s) continue;
    out.push(`Confusion, ${e.name} (rows gold, columns predicted):`, "");
    out.push(`| gold \\ predicted | ${JUDGE_LABELS.join(" | ")} |`, `| --- | ${JUDGE_LABELS.map(() => "---:").join(" | ")} |`);
    s.confusion.forEach((row, i) => {
      out.push(`| ${s.classes[i]} | ${row.join(" | ")} |`);
    });
    out.push("");
  }
  return out;
}

/** v2's bullet, from its settings. */
function v2Description(): string[] {
  const s = V2_JUDGE_SETTINGS;
  const e = s.embedding!;
  const out = [
    `- **v2** (default): the same n-gram block (2^${s.features.hashBits} buckets) plus the all-MiniLM-L6-v2 sentence embedding`,
    `  (unit length, × ${e.weight})`,
  ];
  if (e.sentenceWeight !== undefined)
    out.push(
      `  and a sentence block (× ${e.sentenceWeight}): the element-wise maximum over the text's sentences of their unit`,
      "  mean-pooled hidden states, from the same forward pass,",
    );
  out.push("  as one linear model.");
  if (e.precision === "int8")
    out.push(
      "  MiniLM runs as an int8 graph written by the project's GraphBuilder (per-column int8 weights, activations quantized",
      "  per run, onnxruntime's fused attention, one text per run).",
    );
  out.push(
    "  Trained on GoEmotions-Ekman train + ISEAR (same held-out split) + the in-domain train split (every file of",
    `  packages/eval/data/indomain/train, each row weighing ${s.inDomainWeight}), class weights (n_max / n_c)^${s.training.classWeightPower}`,
    s.classBalanceBySource
      ? "  computed within each source (GoEmotions, ISEAR, in-domain), so GoEmotions' rare classes are balanced against its own neutral and joy."
      : "  over the pooled (weighted) counts.",
    ...(s.offsetTuning
      ? [
          `  Per-class logit offsets tuned for macro-F1 on a GoEmotions-TRAIN holdout (${100 * s.offsetTuning.goEmotionsHoldoutShare} % of its rows) plus the held-out-writer`,
          "  in-domain texts, both scored by the writer-fold models below (trained without that holdout too).",
        ]
      : []),
    ...(s.calibrateByWriter
      ? [
          "  Temperature scaling fitted by log-loss on the in-domain train texts scored by models trained without their writer",
          "  (each train writer left out in turn: the stand-in for a writer the judge has not read), then retrained on all rows;",
          "  never on dev.",
        ]
      : [
          "  Temperature scaling fitted by weighted log-loss on",
          `  ${100 * (s.calibrationShare ?? 0)} % of the training rows (held out by question), then retrained on all rows; never on dev.`,
        ]),
    "  Stored as float16 in the committed judge file (`packages/eval/judges/v2.judge`), which carries its id (weights sha256)",
    "  and the sha256 of each training file. No setting was searched against dev (see *Settings* below).",
  );
  return out;
}

function markdown(results: readonly JudgeEvaluation[], plot: string): string {
  const v2 = results.find((r) => r.name === "v2") ?? results[0]!;
  const lines = [
    "# Emotion judge",
    "",
    "Generated by `pnpm --filter @emosteer/eval judge:report` (packages/eval/scripts/judge-report.ts: retrains v2 on all data",
    "present, rewrites `packages/eval/judges/v2.judge`, then scores v1 and v2 on every set; `-- --no-retrain` scores the committed file;",
    "`-- --speed-only` re-times the judges of judge.json and rewrites only the speed figures). Do not edit by hand.",
    "",
    "## The judges",
    "",
    "- **v1**: multinomial logistic regression over hashed TF-IDF word uni/bi-grams and character 2–5-grams (2^20 buckets),",
    "  seeded SGD on GoEmotions-Ekman train plus ISEAR joy/fear/anger/sadness/disgust rows (minus a held-out 20 %, by a hash",
    "  of MYKEY); per-class logit offsets tuned for macro-F1 on 10 % of the training rows. The judge of the first reports.",
    ...v2Description(),

    "",
    "| judge | id (weights sha256) | training rows | temperature |",
    "| --- | --- | --- | --- |",
    ...results.map((r) => `| ${r.name} | \`${r.id.slice(0, 16)}…\` | ${r.training_rows} | ${r.temperature.toFixed(3)} |`),
    "",
    "Scoring rules. The judge predicts one of its 7 classes per text (top probability). Macro-F1 averages per-class F1 over",
    "the classes the set's gold labels use: 6 for the in-domain sets and the contrast corpus (5 emotions + neutral; a",
    "surprise prediction is always wrong), 7 for GoEmotions dev, 5 for ISEAR. GoEmotions rows with two gold labels follow",
    "the strict rule (TP when the prediction is one of them; the other is a FN). ECE: top-class probability in 10 equal bins,",
    "Σ (n_b / N)·|accuracy_b − confidence_b|.",
    "",
    "## Targets (issue 11), v2",
    "",
    "| target | figure | goal | met |",
    "| --- | --- | --- | --- |",
    ...targets(v2).map(
      (t) =>
        `| ${t.what} | ${t.key.includes("neutral") ? pct(t.value) : t.key.startsWith("throughput") ? (t.value ?? 0).toFixed(0) : f3(t.value)} | ${t.goal} | ${t.met ? "yes" : "**no**"} |`,
    ),
    "",
    "## Sets",
    "",
    ...setTable("In-domain dev, all styles", "indomain_dev", results, (e) => e.indomain_dev),
    ...INDOMAIN_STYLES.flatMap((style) =>
      setTable(`In-domain dev, ${style}`, `indomain_dev.by_style.${style}`, results, (e) => e.indomain_dev.by_style[style]),
    ),
    ...setTable(
      "Contrast corpus (packages/core/prompts/contrast-corpus.json, never trained on)",
      "contrast_corpus",
      results,
      (e) => e.contrast_corpus,
    ),
    ...setTable("GoEmotions-Ekman dev", "goemotions_dev", results, (e) => e.goemotions_dev),
    ...setTable("ISEAR held-out", "isear_heldout", results, (e) => e.isear_heldout),
    "Mean probability of the gold class (what EPS averages), in-domain dev and contrast corpus:",
    "",
    `| judge | set | ${[...EMOTIONS, "neutral"].join(" | ")} |`,
    `| --- | --- | ${[...EMOTIONS, "neutral"].map(() => "---").join(" | ")} |`,
    ...results.flatMap((r) => [
      `| ${r.name} | in-domain dev | ${[...EMOTIONS, "neutral"].map((c) => f3(r.indomain_dev.mean_gold_probability[c])).join(" | ")} |`,
      `| ${r.name} | contrast corpus | ${[...EMOTIONS, "neutral"].map((c) => f3(r.contrast_corpus.mean_gold_probability[c])).join(" | ")} |`,
    ]),
    "",
    ...cvSection(),
    ...searchSection(),
    "## Calibration",
    "",
    `![reliability](${plot})`,
    "",
    "Reliability of the top-class probability (points: bins with ≥ 5 rows; the diagonal is perfect calibration).",
    "",
    "## Speed",
    "",
    `Whole judge (WordPiece, MiniLM on onnxruntime in 2 worker threads, each with its own session of one intra-op thread and`,
    `${v2.settings.embedding?.precision === "int8" ? "the int8 graph one text per run" : "length-sorted batches of 32"}, texts dispatched to them in chunks of 4 runs; n-gram features,`,
    "softmax), no embedding cache, one process; the 2-core machine was shared with other work while measuring (other",
    "sessions' builds, tests and benchmarks: see the load average).",
    "",
    "Speed only (no training, no re-scoring of the sets; checks that judge.json's judges are the ones loaded, same ids):",
    "`pnpm --filter @emosteer/eval judge:report -- --speed-only` rewrites the speed figures of judge.md and judge.json.",
    "",
    "Texts per CPU-second counts the process's user + system time over all its threads, which depends little on the other",
    "work; an idle 2-core machine gives at most about twice that in wall-clock texts/s.",
    "",
    "| judge | texts/s, contrast-corpus answers (600) | per CPU-second | texts/s, GoEmotions dev comments (1,000) | per CPU-second | load average while measuring |",
    "| --- | --- | --- | --- | --- | --- |",
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.throughput.texts_per_s.toFixed(0)} | ${r.throughput.texts_per_cpu_s.toFixed(0)} | ${r.throughput.goemotions_texts_per_s.toFixed(0)} | ${r.throughput.goemotions_texts_per_cpu_s.toFixed(0)} | ${r.throughput.load_average.toFixed(1)} |`,
    ),
    "",
    ...speedDetails(v2),
  ];
  return lines.join("\n");
}

/** Where v2's time goes, the fp32 encoder beside it, and how close the int8 embeddings are to the fp32 ones. */
function speedDetails(v2: JudgeEvaluation): string[] {
  const b = v2.throughput.breakdown;
  const out: string[] = [];
  const p = v2.throughput.encoder_paths;
  if (p)
    out.push(
      `Worker threads against the calling thread, the whole ${v2.name} judge on the 600 answers, ${p.workers.rounds} alternating rounds of each in one process`,
      "(`throughput.encoder_paths`; the embeddings are bit for bit those of a 1-thread calling-thread session and within 1e-3 of a 2-thread one, test/session-pool.test.ts):",
      "",
      "| encoder | texts/s | per CPU-second |",
      "| --- | --- | --- |",
      `| 2 worker threads, a session of 1 intra-op thread each (default) | ${p.workers.texts_per_s.toFixed(0)} | ${p.workers.texts_per_cpu_s.toFixed(0)} |`,
      `| calling thread, one session of 2 intra-op threads (the first v2 path) | ${p.caller.texts_per_s.toFixed(0)} | ${p.caller.texts_per_cpu_s.toFixed(0)} |`,
      "",
    );
  if (b) {
    out.push(
      `Where the time of ${v2.name} goes on the 600 answers (each stage timed alone, wall ms): WordPiece ${b.tokenize_ms.toFixed(0)},`,
      `MiniLM encoder (with tokenizing and pooling) ${b.encoder_ms.toFixed(0)}, hashed n-grams ${b.ngrams_ms.toFixed(0)}; the whole judge ${b.whole_ms.toFixed(0)}.`,
    );
  }
  const f = v2.throughput.fp32_encoder;
  if (f)
    out.push(
      `The fp32 graph (v2's first encoder: plain ONNX ops, batches of 32) alone, same answers, same run: ${f.texts_per_s.toFixed(0)} texts/s,`,
      `${f.texts_per_cpu_s.toFixed(0)} per CPU-second.`,
    );
  const r = v2.throughput.int8_row_encoder;
  if (r)
    out.push(
      `The int8-row graph (per-token activation scales around MatMulInteger, so a batch does not change a text's embedding)`,
      `alone, same answers, same run: one text per run ${r.batch_1.texts_per_s.toFixed(0)} texts/s, ${r.batch_1.texts_per_cpu_s.toFixed(0)} per CPU-second;`,
      `length-sorted padded batches of 8 ${r.batch_8.texts_per_s.toFixed(0)} texts/s, ${r.batch_8.texts_per_cpu_s.toFixed(0)} per CPU-second`,
      `(the judge's int8 encoder, one text per run, above: ${b?.encoder_texts_per_cpu_s?.toFixed(0) ?? "–"} per CPU-second). Batching does not pay here: its quantization is a dozen elementwise ops`,
      "per linear layer where DynamicQuantizeMatMul fuses them, and an answer of ~65 tokens already fills the matrix kernels.",
    );
  const a = v2.embedding_agreement;
  if (a)
    out.push(
      "",
      `int8 against fp32 sentence embeddings (mean-pooled, unit length), ${a.texts} contrast-corpus answers:`,
      `mean cosine ${a.mean_cosine.toFixed(4)}, minimum ${a.min_cosine.toFixed(4)} (\`embedding_agreement\` in judge.json).`,
    );
  if (out.length > 0) out.push("");
  return out;
}

/** The leave-one-writer-out cross-validation on train that chose v2's settings (benchmarks/judge-cv.json), when it was run. */
function cvSection(): string[] {
  const path = join(repoRoot, "benchmarks", "judge-cv.json");
  if (!existsSync(path)) return ["## Settings", "", "v2's settings are simple defaults; no search was run.", ""];
  const cv = JSON.parse(readFileSync(path, "utf8")) as {
    writers: string[];
    trainFiles: string[];
    results: { config: string; heldOutWriter: string; macro_f1: number; ece: number }[];
    mean: { config: string; folds: number; mean_macro_f1: number; mean_mild_macro_f1?: number; mean_isear_macro_f1?: number }[];
  };
  return [
    "## Settings",
    "",
    "v2's free settings were chosen by leave-one-writer-out cross-validation on the in-domain TRAIN split (train on",
    "GoEmotions + ISEAR + the other writers' texts, score the held-out writer's; temperature off) and on the ISEAR rows",
    "held out from training, never on dev: `pnpm --filter @emosteer/eval judge:cv` → `benchmarks/judge-cv.json`.",
    "Rule: the best mean held-out-writer macro-F1 among settings whose mean ISEAR held-out macro-F1 stays within 0.03 of",
    "the in-domain-24 baseline's (a guard for text unlike ours), unless a simpler setting is within 0.005 of it. Two rounds:",
    "the first on the int8 graph's version 1 (fused SkipLayerNormalization) compared fp32 against int8, the sentence block",
    "and the in-domain weight; the second, on version 2 (the committed encoder; Add + LayerNormalization, embeddings at",
    "cosine ≈ 0.999 to version 1's), re-ran its baseline beside the weights left open. Writers were still adding files",
    "(each row of the JSON records how many train files it saw): the second round also trained on the first files of a",
    `fourth writer (td-), not held out. v2: in-domain weight ${V2_JUDGE_SETTINGS.inDomainWeight}, embedding weight ${V2_JUDGE_SETTINGS.embedding?.weight}, no sentence block.`,
    "",
    `| settings | ${cv.writers.map((w) => `held-out ${w}- macro-F1 (ECE)`).join(" | ")} | mean | mean mild | mean ISEAR held-out |`,
    `| --- | ${cv.writers.map(() => "---").join(" | ")} | --- | --- | --- |`,
    ...cv.mean.map((m) => {
      const cell = (w: string) => {
        const r = cv.results.find((x) => x.config === m.config && x.heldOutWriter === w);
        return r ? `${f3(r.macro_f1)} (${f3(r.ece)})` : "–";
      };
      const folds = m.folds < cv.writers.length ? ` (${m.folds} fold${m.folds === 1 ? "" : "s"})` : "";
      return `| ${m.config} | ${cv.writers.map(cell).join(" | ")} | ${f3(m.mean_macro_f1)}${folds} | ${f3(m.mean_mild_macro_f1)} | ${f3(m.mean_isear_macro_f1)} |`;
    }),
    "",
  ];
}

interface SearchScores {
  macro_f1: number;
  ece?: number;
  neutral_as_emotion?: number;
  mild_recall?: Record<string, number>;
  strong_recall?: Record<string, number>;
}
interface SearchResult {
  settings: unknown;
  plain: { goemotions_holdout: SearchScores[]; indomain_lowo: SearchScores };
  nested: Record<
    string,
    {
      goemotions_holdout: SearchScores;
      goemotions_holdout_without: SearchScores;
      indomain_lowo: SearchScores;
      indomain_lowo_without: SearchScores;
    }
  >[];
}

/** The search on held-out TRAINING data behind v2's GoEmotions settings (benchmarks/judge-search.json), when it was run. */
function searchSection(): string[] {
  const path = join(repoRoot, "benchmarks", "judge-search.json");
  if (!existsSync(path)) return [];
  const search = JSON.parse(readFileSync(path, "utf8")) as {
    holdout_share: number;
    fold_writers: string[];
    results: Record<string, SearchResult>;
  };
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const minOf = (r?: Record<string, number>) => (r ? Math.min(...Object.values(r)) : undefined);
  const rows: string[] = [];
  const entries = Object.entries(search.results);
  const goOf = (r: SearchResult) => mean(r.plain.goemotions_holdout.map((g) => g.macro_f1));
  const [baseName, base] = entries[0]!;
  // The rule (see the text below for when it was set): a setting replaces v2's only if it reads the GoEmotions holdout better while the
  // held-out writers lose at most 0.01 macro-F1 and no emotion's mild recall falls more than 0.02 below v2's lowest.
  const passes = (r: SearchResult) =>
    goOf(r) > goOf(base) &&
    r.plain.indomain_lowo.macro_f1 >= base.plain.indomain_lowo.macro_f1 - 0.01 &&
    (minOf(r.plain.indomain_lowo.mild_recall) ?? 0) >= (minOf(base.plain.indomain_lowo.mild_recall) ?? 0) - 0.02;
  for (const [config, r] of entries) {
    const id = r.plain.indomain_lowo;
    rows.push(
      `| ${config} | none | ${f3(goOf(r))} | ${f3(id.macro_f1)} | ${f3(id.ece)} | ${pct(id.neutral_as_emotion)} | ${f3(minOf(id.mild_recall))} | ${f3(minOf(id.strong_recall))} | ${r === base ? "(baseline)" : passes(r) ? "yes" : "no"} |`,
    );
    for (const objective of Object.keys(r.nested[0] ?? {})) {
      const halves = r.nested.map((n) => n[objective]!);
      const go = mean(halves.map((h) => h.goemotions_holdout.macro_f1));
      const goWithout = mean(halves.map((h) => h.goemotions_holdout_without.macro_f1));
      const ind = mean(halves.map((h) => h.indomain_lowo.macro_f1));
      const indWithout = mean(halves.map((h) => h.indomain_lowo_without.macro_f1));
      const mild = mean(halves.map((h) => minOf(h.indomain_lowo.mild_recall) ?? 0));
      const strong = mean(halves.map((h) => minOf(h.indomain_lowo.strong_recall) ?? 0));
      const mildWithout = mean(halves.map((h) => minOf(h.indomain_lowo_without.mild_recall) ?? 0));
      const strongWithout = mean(halves.map((h) => minOf(h.indomain_lowo_without.strong_recall) ?? 0));
      const neutral = mean(halves.map((h) => h.indomain_lowo.neutral_as_emotion ?? 0));
      rows.push(
        `| ${config} | tuned for ${objective === "sum" ? "GoEmotions + in-domain" : "GoEmotions only"} (nested) | ${f3(go)} (without: ${f3(goWithout)}) | ${f3(ind)} (without: ${f3(indWithout)}) | – | ${pct(neutral)} | ${f3(mild)} | ${f3(strong)} | ${go > goWithout + 0.005 && ind >= indWithout - 0.01 && mild >= mildWithout - 0.02 && strong >= strongWithout - 0.02 ? "yes" : "no"} |`,
      );
    }
  }
  return [
    "### GoEmotions: class weights, in-domain weight and per-class offsets",
    "",
    `Searched on held-out parts of the TRAINING data only (\`pnpm --filter @emosteer/eval judge:search\` → \`benchmarks/judge-search.json\`):`,
    `a GoEmotions-train holdout (${100 * search.holdout_share} % of its rows by a hash of their id, out of every model of the search) and`,
    `leave-one-writer-out on the in-domain train split (writers ${search.fold_writers.join(", ")} in turn; te-, 60 anger answers, always trains).`,
    "Each fold model trains without the holdout and one writer and scores both; the GoEmotions column is the mean over the",
    "fold models. Offsets are scored nested: tuned on half the holdout and two writers, scored on the other half and the",
    'other two writers (mean of both ways round; "without": the same rows with no offsets). ECE after the temperature fitted',
    "on the same held-out-writer texts (optimistic). Mild and strong: the lowest per-emotion recall. Nothing here was scored on dev.",
    "",
    "Rule (set during the search, after the baseline's and the by-source in-domain-18 rows, before the other two; never on dev):",
    "a setting replaces v2's only if its GoEmotions holdout macro-F1 is higher while the held-out writers' macro-F1 falls by",
    "at most 0.01 and the lowest mild recall by at most 0.02; offsets only if, nested, they raise the GoEmotions figure by",
    "more than 0.005 and cost the writers at most 0.01 macro-F1 and 0.02 of the lowest mild and strong recall (against the",
    "same rows without offsets; the recall guard was added after the by-source-36 rows, whose offsets brought the lowest strong recall down to 0.665).",
    "",
    "| settings | offsets | GoEmotions holdout macro-F1 | in-domain held-out writers macro-F1 | ECE | neutral read as emotion | lowest mild recall | lowest strong recall | meets the rule |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
    ...(() => {
      const winners = entries.filter(([, r]) => r !== base && passes(r));
      const best = entries.reduce((a, b) => (goOf(b[1]) > goOf(a[1]) ? b : a));
      const highest = `The highest GoEmotions holdout figure, ${f3(goOf(best[1]))} (${best[0]}), is below the 0.58 target`;
      return winners.length === 0
        ? [
            `No setting met the rule, so v2 keeps its settings (${baseName}). ${highest}: with these features, what the`,
            "linear model gains on Reddit comments it loses on assistant answers (mild sadness and disgust first).",
            "",
          ]
        : [
            `Met the rule: ${winners.map(([n]) => n).join("; ")}. ${highest}.`,
            ...(winners.some(([, r]) => JSON.stringify(r.settings) === JSON.stringify(V2_JUDGE_SETTINGS))
              ? []
              : ["The committed v2 does not use it yet (it has the baseline's settings): retraining it is left to a later run."]),
            "",
          ];
    })(),
  ];
}

/** One reliability panel per judge; a line per set. */
function reliabilitySvg(results: readonly JudgeEvaluation[]): string {
  const size = 260;
  const pad = 40;
  const sets: [string, string, (e: JudgeEvaluation) => SetScores][] = [
    ["in-domain dev", "#d62728", (e) => e.indomain_dev],
    ["contrast corpus", "#1f77b4", (e) => e.contrast_corpus],
    ["GoEmotions dev", "#2ca02c", (e) => e.goemotions_dev],
  ];
  const width = results.length * (size + pad) + pad;
  const height = size + 2 * pad + 20 * sets.length;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  results.forEach((r, k) => {
    const x0 = pad + k * (size + pad);
    const y0 = pad;
    const X = (v: number) => (x0 + v * size).toFixed(1);
    const Y = (v: number) => (y0 + size - v * size).toFixed(1);
    parts.push(
      `<text x="${x0}" y="${y0 - 10}" font-size="13">judge ${r.name}: ECE in-domain ${r.indomain_dev.ece.toFixed(3)}, contrast ${r.contrast_corpus.ece.toFixed(3)}</text>`,
    );
    parts.push(`<rect x="${x0}" y="${y0}" width="${size}" height="${size}" fill="none" stroke="#999"/>`);
    parts.push(`<line x1="${X(0)}" y1="${Y(0)}" x2="${X(1)}" y2="${Y(1)}" stroke="#bbb" stroke-dasharray="4 3"/>`);
    for (let t = 0; t <= 1.0001; t += 0.2) {
      parts.push(
        `<text x="${X(t)}" y="${y0 + size + 14}" text-anchor="middle">${t.toFixed(1)}</text>`,
        `<text x="${x0 - 6}" y="${Y(t)}" text-anchor="end" dominant-baseline="middle">${t.toFixed(1)}</text>`,
      );
    }
    parts.push(`<text x="${x0 + size / 2}" y="${y0 + size + 30}" text-anchor="middle">top-class probability</text>`);
    for (const [, color, pick] of sets) {
      const bins = pick(r).reliability.filter((b) => b.count >= 5);
      if (bins.length === 0) continue;
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${bins.map((b) => `${X(b.confidence)},${Y(b.accuracy)}`).join(" ")}"/>`,
      );
      for (const b of bins)
        parts.push(
          `<circle cx="${X(b.confidence)}" cy="${Y(b.accuracy)}" r="${Math.min(6, 2 + Math.sqrt(b.count) / 4).toFixed(1)}" fill="${color}" fill-opacity="0.7"/>`,
        );
    }
  });
  sets.forEach(([name, color], i) => {
    const y = size + 2 * pad + 10 + 18 * i;
    parts.push(
      `<rect x="${pad}" y="${y - 8}" width="12" height="8" fill="${color}"/>`,
      `<text x="${pad + 18}" y="${y}">${name} (accuracy of the top class)</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/** The judge.json layout: the default judge's (v2's) figures at the top level under stable keys, each judge under its name. */
function reportJson(results: readonly JudgeEvaluation[]) {
  const v2 = results.find((r) => r.name === "v2") ?? results[0]!;
  const strip = (e: JudgeEvaluation) => ({ ...e });
  return {
    generated_by: "pnpm --filter @emosteer/eval judge:report",
    default_judge: v2.name,
    labels: JUDGE_LABELS,
    id: v2.id,
    indomain_dev: v2.indomain_dev,
    contrast_corpus: v2.contrast_corpus,
    goemotions_dev: v2.goemotions_dev,
    isear_heldout: v2.isear_heldout,
    throughput: v2.throughput,
    targets: targets(v2),
    judges: Object.fromEntries(results.map((r) => [r.name, strip(r)])),
  };
}

/**
 * (Re)train v2 on all data present and write its judge file (unless `retrain: false`), load or train v1,
 * evaluate both on every set, and write `judge.json`, `judge.md` and `plots/judge-reliability.svg`
 * atomically. Returns the evaluations, v1 then v2.
 */
export async function writeJudgeReport(options: JudgeReportOptions = {}): Promise<JudgeEvaluation[]> {
  const report = options.onProgress ?? (() => {});
  const judgeFile = options.judgeFile ?? COMMITTED_JUDGE_PATH;
  if (options.speedOnly || options.markdownOnly) return rewriteJudgeSpeed(options, judgeFile);
  if (options.retrain !== false) {
    // Trained once per data and settings (the cache key hashes both), so a rerun without new data only re-scores.
    const cached = judgeCachePath({ ...options, settings: V2_JUDGE_SETTINGS });
    let v2: EmotionJudge;
    if (existsSync(cached)) {
      v2 = loadJudge(cached);
      report({ stage: "loading", message: `v2 for the current data and settings is cached at ${cached}` });
    } else {
      v2 = await trainJudge({ ...options, settings: V2_JUDGE_SETTINGS, name: "v2" });
      await saveJudge(v2, cached);
    }
    report({ stage: "saving", message: `writing judge v2 ${v2.id.slice(0, 12)} to ${judgeFile}` });
    await saveJudge(v2, judgeFile);
  }
  const judges = [await createJudge({ ...options, judgeFile: undefined, judge: "v1" }), loadJudge(judgeFile)];
  const results: JudgeEvaluation[] = [];
  for (const judge of judges) {
    results.push(await evaluateJudge(judge, { ...options, onProgress: report }));
    await judge.dispose();
  }
  const outDir = options.outDir ?? join(repoRoot, "benchmarks");
  const plot = "plots/judge-reliability.svg";
  await writeFileAtomic(join(outDir, plot), reliabilitySvg(results));
  await writeFileAtomic(join(outDir, "judge.json"), `${JSON.stringify(reportJson(results), null, 2)}\n`);
  await writeFileAtomic(join(outDir, "judge.md"), markdown(results, plot));
  return results;
}

/**
 * {@link JudgeReportOptions.speedOnly}: the speed figures of judge.json's judges measured again, everything else kept;
 * {@link JudgeReportOptions.markdownOnly}: nothing measured, judge.md re-rendered.
 */
async function rewriteJudgeSpeed(options: JudgeReportOptions, judgeFile: string): Promise<JudgeEvaluation[]> {
  const report = options.onProgress ?? (() => {});
  const outDir = options.outDir ?? join(repoRoot, "benchmarks");
  const jsonPath = join(outDir, "judge.json");
  if (!existsSync(jsonPath))
    throw new EmosteerError(`${jsonPath} does not exist: run the whole report first (pnpm --filter @emosteer/eval judge:report).`);
  const stored = JSON.parse(readFileSync(jsonPath, "utf8")) as { judges: Record<string, JudgeEvaluation> };
  const results: JudgeEvaluation[] = [];
  for (const [name, evaluation] of Object.entries(stored.judges)) {
    const judge = name === "v2" ? loadJudge(judgeFile) : await createJudge({ ...options, judgeFile: undefined, judge: name as JudgeName });
    try {
      if (judge.id !== evaluation.id)
        throw new EmosteerError(
          `${jsonPath} holds judge ${name} ${evaluation.id.slice(0, 12)}, but that judge is now ${judge.id.slice(0, 12)}: its set scores are stale, so run the whole report (without --speed-only).`,
        );
      if (options.markdownOnly) {
        results.push(evaluation);
        continue;
      }
      const { throughput, agreement } = await measureThroughput(judge, { ...options, onProgress: report });
      const { embedding_agreement: _, ...rest } = evaluation;
      results.push({ ...rest, throughput, ...(agreement ? { embedding_agreement: agreement } : {}) });
    } finally {
      await judge.dispose();
    }
  }
  if (!options.markdownOnly) await writeFileAtomic(jsonPath, `${JSON.stringify(reportJson(results), null, 2)}\n`);
  await writeFileAtomic(join(outDir, "judge.md"), markdown(results, "plots/judge-reliability.svg"));
  return results;
}
