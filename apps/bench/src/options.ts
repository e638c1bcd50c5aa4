import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  CONTRAST_CORPUS_NAMES,
  type ContrastCorpusName,
  isContrastCorpusName,
  isExtractionMethod,
  type ExtractionMethod,
} from "@emosteer/core";
import { defaultVectorCacheDir } from "@emosteer/core/node";
import { DEFAULT_JUDGE_NAME, isJudgeName, JUDGE_NAMES, type JudgeName } from "@emosteer/eval";
import { QUERY_SET_NAMES, type QuerySetName } from "./queries.js";

/** Everything that decides what a bench run does. */
export interface BenchOptions {
  /** Registry ids. Defaults to every registry model (those without local weights are listed as skipped). */
  readonly models: readonly string[] | "all";
  /** Backend names from the backend table. Defaults to every backend in the table. */
  readonly backends: readonly string[] | "all";
  /** Emotions to steer. Defaults to the five core emotions plus those of `emotionFiles`. */
  readonly emotions: readonly string[] | "default";
  /** User-defined emotion files (core's user-emotion JSON). */
  readonly emotionFiles: readonly string[];
  /** Defaults to −1, 0, 0.5, 1, 2, 4. */
  readonly alphas: readonly number[];
  /** Number of evaluation queries (balanced over the query emotions). Defaults to all 150. */
  readonly queries: number | "all";
  /** One query per line; replaces the built-in evaluation split. */
  readonly queryFile: string | null;
  /** The built-in query set when there is no --query-file. Defaults to "evaluation". */
  readonly querySet: QuerySetName;
  /** Tokens per generation. Defaults to 64. */
  readonly maxTokens: number;
  /** Extraction method. Defaults to `"mean-diff"` (the paper). */
  readonly method: ExtractionMethod;
  /** The primary corpus: `corpora[0]`. Main table, plots, claims and summary rows use it. */
  readonly corpus: ContrastCorpus;
  /**
   * Corpora to extract vectors from and steer with, primary first, without repeats. Defaults to
   * `["fixed"]`. With more than one, every single-emotion EV cell is generated for each corpus.
   */
  readonly corpora: readonly ContrastCorpus[];
  /** Sampling temperature; 0 is greedy. Defaults to 0. */
  readonly temperature: number;
  /** Seed of every generation. Defaults to 0. */
  readonly seed: number;
  /** Two-emotion mix, e.g. `{ joy: 1, fear: 1 }`; null disables. Defaults to joy 1 + fear 1. */
  readonly mix: Readonly<Record<string, number>> | null;
  /** Run the prompt-based baseline. Defaults to true. */
  readonly baseline: boolean;
  /** α of the prompt + EV cells (the conditioning prompt plus the same emotion's vector; −1 suppresses). Defaults to none. */
  readonly suppress: readonly number[];
  /** Long-text queries per model/backend (0 disables). Defaults to 2. */
  readonly longQueries: number;
  /** Tokens of a long answer (cut into windows of `longWindow`). Defaults to 512. */
  readonly longTokens: number;
  /** Tokens per window and per dialogue turn. Defaults to 128. */
  readonly longWindow: number;
  /** α of the steered long texts. Defaults to 1. */
  readonly longAlpha: number;
  /** Emotions of the long-text subset. Defaults to the first two grid emotions. */
  readonly longEmotions: number;
  /** Interleaved unsteered/steered latency pairs (0 disables). Defaults to 3. */
  readonly latencyReps: number;
  /** Tokens of each latency generation. Defaults to 64. */
  readonly latencyTokens: number;
  /** Extraction queries (spread over the corpus). Defaults to all. */
  readonly extractionQueries: number | "all";
  /** Root of the vector cache. Defaults to `<cache>/vectors`, the one the CLI and the library use. */
  readonly vectorCache: string;
  /** The emotion judge by name. Defaults to "v2" (the committed judge file). */
  readonly judge: JudgeName;
  /** A judge file to score with instead of the named judge. */
  readonly judgeFile: string | null;
  /** SQLite results. Defaults to `<cache>/bench/bench.sqlite`. */
  readonly db: string;
  /** Where REPORT.md, summary.json and plots/ go. Defaults to `benchmarks/`. */
  readonly out: string;
  /** Only regenerate the report from the database. */
  readonly reportOnly: boolean;
  /** With a postgres:// --db: seconds a worker holds a job before it is redelivered. Defaults to 900. */
  readonly leaseSeconds: number;
  /** Re-score the stored texts with the current judge (judge and lexicon rows only; no text is generated). */
  readonly rejudge: boolean;
  /** Do not write the report after the run. */
  readonly noReport: boolean;
  readonly quick: boolean;
  /** Free text shown in the report's setup (e.g. why this grid was chosen). */
  readonly note: string | null;
  /** The command-line arguments, as given (recorded in the report). */
  readonly argv: readonly string[];
}

export const DEFAULT_ALPHAS = [-1, 0, 0.5, 1, 2, 4] as const;

/** Where the contrast responses come from (core's {@link ContrastCorpusName}): `"fixed"`, `"fixed-v2"` or `"self"`. */
export type ContrastCorpus = ContrastCorpusName;

const USAGE = `Usage: pnpm bench [options]
       pnpm bench worker --db postgres://… [--vector-cache DIR]   (runs queued cells; see --db)

  --models a,b          registry model ids (default: all; models without local weights are listed as skipped)
  --backends a,b        llama.cpp, onnx, transformers.js (default: all)
  --emotions a,b        emotions to steer (default: joy,anger,disgust,fear,sadness + --emotion-file ones)
  --emotion-file FILE   a user-defined emotion (JSON, core's format); repeatable
  --alphas a,b          steering strengths (default: -1,0,0.5,1,2,4)
  --queries N           evaluation queries, balanced over emotions (default: all 150)
  --query-file FILE     one query per line instead of the built-in evaluation split
  --query-set S         evaluation (the built-in evaluation split) or new (prompts/new-queries.json: everyday
                        questions in no split, for in-sample against new-query figures) (default: evaluation)
  --max-tokens N        tokens per generation (default: 64)
  --method M            extraction method: mean-diff | last-token | pca | fisher (default: mean-diff)
  --corpora a,b         contrast corpora of the vectors: fixed (repo corpus), self (the model's own answers),
                        or both, e.g. fixed,self: single-emotion EV cells for each, compared in REPORT.md;
                        the first is primary (main table, plots, claims, mix) (default: fixed)
  --corpus C            the same as --corpora C with one corpus
  --judge v1|v2         the emotion judge (default: v2, packages/eval/judges/v2.judge; v1 reproduces earlier reports)
  --judge-file FILE     score with this judge file instead
  --temperature T       0 = greedy (default: 0)
  --seed N              seed of every generation (default: 0)
  --mix joy=1,fear=1    the two-emotion mix ("none" to skip; default: joy=1,fear=1)
  --no-baseline         skip the prompt-based baseline
  --suppress=a,b        also the prompt baseline plus α·EV of the prompted emotion at each α, e.g. --suppress=-1,-2
                        (suppression under the prompt; fidelity to the prompt-only answer) (default: none)
  --long-queries N      long-text consistency queries (default: 2; 0 skips)
  --long-tokens N       tokens of a long answer (default: 512)
  --long-window N       tokens per window / per turn (default: 128)
  --long-emotions N     how many grid emotions get long texts (default: 2)
  --long-alpha A        α of the steered long texts (default: 1)
  --latency-reps N      interleaved unsteered/steered latency pairs (default: 3; 0 skips)
  --extraction-queries N  contrast pairs used for extraction (default: all)
  --vector-cache DIR    where vectors are cached (default: <cache>/vectors, shared with the CLI and the library)
  --quick               default model, llama.cpp, 3 queries, 48 tokens, 20 extraction pairs (≤ 10 min on 2 cores)
  --db PATH|URL         results database (default: <cache>/bench/bench.sqlite; --quick: <cache>/bench/quick.sqlite);
                        a postgres:// URL plans the grid as queued jobs for \`pnpm bench worker\` on any machine
  --out DIR             report directory (default: benchmarks/; --quick: <cache>/bench/quick-report/)
  --report-only         regenerate the report from the database without running
  --lease-seconds N     postgres:// --db: seconds a worker holds a job before another gets it (default: 900)
  --rejudge             re-score every stored text with the judge (--judge/--judge-file) and write the report;
                        adds that judge's rows beside the others, never regenerates or changes a text
  --no-report           do not write the report
  --note TEXT           a note for the report's setup section (e.g. why this grid)
  --help

pnpm bench export --db PATH|URL --out FILE.jsonl.gz   a database as one file: every text with its cell key,
                                                      every judge's rows, runs, setups (benchmarks/bench-texts.jsonl.gz)
pnpm bench import FILE.jsonl.gz --db PATH|URL         that file into a new, empty database (then --rejudge or --report-only)
pnpm bench generalisation --db IN_SAMPLE --new-db NEW  in-sample against new-query figures (GENERALISATION.md)`;

export class BenchUsageError extends Error {
  constructor(message: string) {
    super(`${message}\n\n${USAGE}`);
  }
}

/** Parses command-line arguments; throws {@link BenchUsageError} naming the bad option. */
export function parseBenchArgs(argv: readonly string[], env: { readonly cacheDir: string; readonly cwd: string }): BenchOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        models: { type: "string" },
        backends: { type: "string" },
        emotions: { type: "string" },
        "emotion-file": { type: "string", multiple: true },
        alphas: { type: "string" },
        queries: { type: "string" },
        "query-file": { type: "string" },
        "query-set": { type: "string" },
        "max-tokens": { type: "string" },
        method: { type: "string" },
        corpus: { type: "string" },
        corpora: { type: "string" },
        judge: { type: "string" },
        "judge-file": { type: "string" },
        temperature: { type: "string" },
        seed: { type: "string" },
        mix: { type: "string" },
        "no-baseline": { type: "boolean" },
        suppress: { type: "string" },
        "long-queries": { type: "string" },
        "long-tokens": { type: "string" },
        "long-window": { type: "string" },
        "long-emotions": { type: "string" },
        "long-alpha": { type: "string" },
        "latency-reps": { type: "string" },
        "latency-tokens": { type: "string" },
        "extraction-queries": { type: "string" },
        "vector-cache": { type: "string" },
        quick: { type: "boolean" },
        db: { type: "string" },
        out: { type: "string" },
        "report-only": { type: "boolean" },
        rejudge: { type: "boolean" },
        "lease-seconds": { type: "string" },
        "no-report": { type: "boolean" },
        note: { type: "string" },
        help: { type: "boolean" },
      },
    }));
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  if (values.help) return "help";
  const quick = values.quick ?? false;
  const list = (s: string | undefined) =>
    s === undefined
      ? undefined
      : s
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean);
  const corpora = parseCorpora(values.corpus, list(values.corpora));
  const method = values.method ?? "mean-diff";
  if (!isExtractionMethod(method)) throw new BenchUsageError(`--method must be mean-diff, last-token, pca or fisher, got "${method}".`);
  const alphas = values.alphas === undefined ? [...DEFAULT_ALPHAS] : list(values.alphas)!.map((a) => number("--alphas", a));
  if (alphas.length === 0) throw new BenchUsageError("--alphas needs at least one value, e.g. --alphas 0,1,2.");
  const judge = values.judge ?? DEFAULT_JUDGE_NAME;
  if (!isJudgeName(judge)) throw new BenchUsageError(`--judge must be one of ${JUDGE_NAMES.join(", ")}, got "${judge}".`);
  const queries = values.queries === undefined ? (quick ? 3 : "all") : integer("--queries", values.queries, 1);
  const querySet = values["query-set"] ?? "evaluation";
  if (!(QUERY_SET_NAMES as readonly string[]).includes(querySet))
    throw new BenchUsageError(`--query-set must be one of ${QUERY_SET_NAMES.join(", ")}, got "${querySet}".`);
  if (values["query-set"] !== undefined && values["query-file"] !== undefined)
    throw new BenchUsageError("--query-set and --query-file both choose the queries: pass one of them.");
  return {
    models: list(values.models) ?? (quick ? ["smollm2-135m-instruct"] : "all"),
    backends: list(values.backends) ?? (quick ? ["llama.cpp"] : "all"),
    emotions: list(values.emotions) ?? "default",
    emotionFiles: (values["emotion-file"] ?? []).map((f) => resolve(env.cwd, f)),
    alphas: [...new Set(alphas)].sort((a, b) => a - b),
    queries,
    queryFile: values["query-file"] === undefined ? null : resolve(env.cwd, values["query-file"]),
    querySet: querySet as QuerySetName,
    maxTokens: values["max-tokens"] === undefined ? (quick ? 48 : 64) : integer("--max-tokens", values["max-tokens"], 1),
    method,
    corpus: corpora[0]!,
    corpora,
    judge,
    judgeFile: values["judge-file"] === undefined ? null : resolve(env.cwd, values["judge-file"]),
    temperature: values.temperature === undefined ? 0 : nonNegative("--temperature", values.temperature),
    seed: values.seed === undefined ? 0 : integer("--seed", values.seed, 0),
    mix: parseMix(values.mix),
    baseline: !(values["no-baseline"] ?? false),
    suppress: parseSuppress(values.suppress, !(values["no-baseline"] ?? false)),
    longQueries: values["long-queries"] === undefined ? (quick ? 1 : 2) : integer("--long-queries", values["long-queries"], 0),
    longTokens: values["long-tokens"] === undefined ? (quick ? 256 : 512) : integer("--long-tokens", values["long-tokens"], 1),
    longWindow: values["long-window"] === undefined ? (quick ? 64 : 128) : integer("--long-window", values["long-window"], 1),
    longAlpha: values["long-alpha"] === undefined ? 1 : number("--long-alpha", values["long-alpha"]),
    longEmotions: values["long-emotions"] === undefined ? (quick ? 1 : 2) : integer("--long-emotions", values["long-emotions"], 1),
    latencyReps: values["latency-reps"] === undefined ? (quick ? 2 : 3) : integer("--latency-reps", values["latency-reps"], 0),
    latencyTokens: values["latency-tokens"] === undefined ? 64 : integer("--latency-tokens", values["latency-tokens"], 1),
    extractionQueries:
      values["extraction-queries"] === undefined ? (quick ? 20 : "all") : integer("--extraction-queries", values["extraction-queries"], 1),
    vectorCache: values["vector-cache"] === undefined ? defaultVectorCacheDir(env.cacheDir) : resolve(env.cwd, values["vector-cache"]),
    // --quick keeps its own database and report, so a smoke run never replaces the committed benchmarks/ report.
    // A postgres:// URL is kept as given; a file path is resolved against the caller's directory.
    db:
      values.db === undefined
        ? join(env.cacheDir, "bench", quick ? "quick.sqlite" : "bench.sqlite")
        : /^postgres(ql)?:\/\//.test(values.db)
          ? values.db
          : resolve(env.cwd, values.db),
    out:
      values.out === undefined
        ? quick
          ? join(env.cacheDir, "bench", "quick-report")
          : resolve(env.cwd, "benchmarks")
        : resolve(env.cwd, values.out),
    reportOnly: values["report-only"] ?? false,
    rejudge: values.rejudge ?? false,
    leaseSeconds: values["lease-seconds"] === undefined ? 900 : integer("--lease-seconds", values["lease-seconds"], 1),
    noReport: values["no-report"] ?? false,
    quick,
    note: values.note ?? null,
    argv: [...argv],
  };
}

export function usage(): string {
  return USAGE;
}

function parseCorpora(corpus: string | undefined, corpora: string[] | undefined): ContrastCorpus[] {
  if (corpus !== undefined && corpora !== undefined)
    throw new BenchUsageError(
      `--corpus is --corpora with one corpus: give one of them, e.g. --corpora ${corpus},${corpus === "fixed" ? "self" : "fixed"}.`,
    );
  const option = corpus !== undefined ? "--corpus" : "--corpora";
  const names = corpus !== undefined ? [corpus] : (corpora ?? ["fixed"]);
  if (names.length === 0) throw new BenchUsageError("--corpora needs at least one corpus, e.g. --corpora fixed,self.");
  for (const name of names) {
    if (!isContrastCorpusName(name))
      throw new BenchUsageError(`${option}: "${name}" is not a corpus; use ${CONTRAST_CORPUS_NAMES.join(", ")}.`);
  }
  return [...new Set(names as ContrastCorpus[])];
}

function parseMix(text: string | undefined): Record<string, number> | null {
  if (text === undefined) return { joy: 1, fear: 1 };
  if (text === "none") return null;
  const mix: Record<string, number> = {};
  for (const part of text.split(",")) {
    const [emotion, alpha] = part.split("=").map((s) => s.trim());
    if (!emotion || alpha === undefined) throw new BenchUsageError(`--mix takes emotion=α pairs like joy=1,fear=1, got "${part}".`);
    mix[emotion] = number("--mix", alpha);
  }
  if (Object.keys(mix).length < 2) throw new BenchUsageError(`--mix needs at least two emotions (e.g. joy=1,fear=1), got "${text}".`);
  return mix;
}

function number(option: string, text: string): number {
  const x = Number(text);
  if (text.trim() === "" || !Number.isFinite(x)) throw new BenchUsageError(`${option}: "${text}" is not a number.`);
  return x;
}

function nonNegative(option: string, text: string): number {
  const x = number(option, text);
  if (x < 0) throw new BenchUsageError(`${option} must be 0 or more, got ${text}.`);
  return x;
}

function integer(option: string, text: string, min: number): number {
  const x = number(option, text);
  if (!Number.isInteger(x) || x < min) throw new BenchUsageError(`${option} must be a whole number of at least ${min}, got ${text}.`);
  return x;
}

function parseSuppress(text: string | undefined, baseline: boolean): number[] {
  if (text === undefined) return [];
  if (!baseline) throw new BenchUsageError("--suppress steers under the prompt baseline: drop --no-baseline.");
  const alphas = [...new Set(text.split(",").map((part) => Number(part.trim())))];
  if (alphas.length === 0 || alphas.some((a) => !Number.isFinite(a) || a === 0))
    throw new BenchUsageError(`--suppress takes non-zero α values like -1,-2, got "${text}".`);
  return alphas;
}
