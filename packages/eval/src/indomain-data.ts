/**
 * The in-domain judge data written for this project (packages/eval/data/indomain/): assistant-style
 * answers labelled with one of the five emotions or neutral, split into train and dev by question.
 * Format: data/README.md. Also the repo's fixed contrast corpus, read as a labelled test set.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { InvalidFileError } from "@emosteer/core";
import { JUDGE_LABELS, type JudgeLabel, type LabelledText } from "./data.js";
import { repoRoot } from "./paths.js";

export const INDOMAIN_LABELS = ["joy", "anger", "disgust", "fear", "sadness", "neutral"] as const;
export const INDOMAIN_STYLES = ["mild", "strong", "rough", "plain"] as const;
export type InDomainStyle = (typeof INDOMAIN_STYLES)[number];

/** One in-domain text; `labels` is its one label's index into {@link JUDGE_LABELS}. */
export interface InDomainText extends LabelledText {
  readonly qid: string;
  readonly question: string;
  readonly label: JudgeLabel;
  readonly style: InDomainStyle;
  /** File it came from, relative to the in-domain folder (e.g. `train/ta-001.jsonl`). */
  readonly file: string;
}

/** The in-domain folder of this repo (`packages/eval/data/indomain`). */
export const DEFAULT_INDOMAIN_DIR = join(repoRoot, "packages", "eval", "data", "indomain");

/** `.jsonl` files of one split, sorted by name (the training order does not depend on the file system). */
export function inDomainFiles(split: "train" | "dev", dir = DEFAULT_INDOMAIN_DIR): string[] {
  const folder = join(resolve(dir), split);
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((f) => f.endsWith(".jsonl"))
    .sort()
    .map((f) => join(folder, f));
}

/** Lower-cased, whitespace- and punctuation-collapsed question text: the key that decides "same question". */
export function normaliseQuestion(q: string): string {
  return q
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
}

/** Parse and validate one in-domain JSONL file. */
export function parseInDomain(content: string, path: string, file: string): InDomainText[] {
  const rows: InDomainText[] = [];
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new InvalidFileError(path, `line ${i + 1} is not JSON`);
    }
    const { qid, question, label, style, text } = o;
    if (typeof qid !== "string" || typeof question !== "string" || typeof text !== "string") {
      throw new InvalidFileError(path, `line ${i + 1} lacks a string qid, question or text`);
    }
    if (!INDOMAIN_LABELS.includes(label as never))
      throw new InvalidFileError(path, `line ${i + 1} has label ${JSON.stringify(label)}; use one of ${INDOMAIN_LABELS.join(", ")}`);
    if (!INDOMAIN_STYLES.includes(style as never))
      throw new InvalidFileError(path, `line ${i + 1} has style ${JSON.stringify(style)}; use one of ${INDOMAIN_STYLES.join(", ")}`);
    const l = label as JudgeLabel;
    rows.push({
      id: `${file}:${i + 1}`,
      qid,
      question,
      label: l,
      style: style as InDomainStyle,
      text,
      file,
      labels: [JUDGE_LABELS.indexOf(l)],
    });
  }
  return rows;
}

/** Every text of a split (empty when the folder does not exist yet). */
export function loadInDomain(split: "train" | "dev", dir = DEFAULT_INDOMAIN_DIR): InDomainText[] {
  return inDomainFiles(split, dir).flatMap((path) => parseInDomain(readFileSync(path, "utf8"), path, `${split}/${path.split("/").at(-1)}`));
}

/** sha256 of each file, keyed by a path relative to the repo (what a judge file records). */
export function fileDigests(paths: readonly string[]): { file: string; sha256: string }[] {
  return paths.map((p) => ({
    file: p.startsWith(repoRoot) ? p.slice(repoRoot.length + 1) : p,
    sha256: createHash("sha256").update(readFileSync(p)).digest("hex"),
  }));
}

/** A contrast-corpus answer as a labelled text (neutral, or the emotion it was written to carry). */
export interface ContrastAnswer extends LabelledText {
  readonly queryId: string;
  readonly label: JudgeLabel;
}

export const CONTRAST_CORPUS_PATH = join(repoRoot, "packages", "core", "prompts", "contrast-corpus.json");

/** The 600 answers of the fixed contrast corpus (100 queries × neutral + five emotions). Never trained on. */
export function loadContrastCorpus(path = CONTRAST_CORPUS_PATH): ContrastAnswer[] {
  const corpus = JSON.parse(readFileSync(path, "utf8")) as {
    items: { queryId: string; neutral: string; emotional: Record<string, string> }[];
  };
  const rows: ContrastAnswer[] = [];
  for (const item of corpus.items) {
    const add = (label: JudgeLabel, text: string) =>
      rows.push({ id: `${item.queryId}:${label}`, queryId: item.queryId, label, text, labels: [JUDGE_LABELS.indexOf(label)] });
    add("neutral", item.neutral);
    for (const [emotion, text] of Object.entries(item.emotional)) add(emotion as JudgeLabel, text);
  }
  return rows;
}

/**
 * Train rows that must not be trained on: a dev question (by qid or normalised text), a text that
 * is also in dev, or a contrast-corpus answer. Training drops them; the data test asserts there are none.
 */
export function leakingTrainRows(
  train: readonly InDomainText[],
  dev: readonly InDomainText[],
  contrast: readonly { text: string }[],
): InDomainText[] {
  const devQids = new Set(dev.map((r) => r.qid));
  const devQuestions = new Set(dev.map((r) => normaliseQuestion(r.question)));
  const heldTexts = new Set([...dev, ...contrast].map((r) => r.text.trim()));
  return train.filter((r) => devQids.has(r.qid) || devQuestions.has(normaliseQuestion(r.question)) || heldTexts.has(r.text.trim()));
}
