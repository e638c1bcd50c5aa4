import { readFileSync } from "node:fs";
import { InvalidFileError } from "@emosteer/core";
import { dataFile } from "./paths.js";

/** The judge's classes, in GoEmotions-Ekman label-id order. */
export const JUDGE_LABELS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"] as const;
export type JudgeLabel = (typeof JUDGE_LABELS)[number];

/** One labelled text; `labels` holds indices into {@link JUDGE_LABELS} (several for multi-label rows). */
export interface LabelledText {
  readonly id: string;
  readonly text: string;
  readonly labels: readonly number[];
}

/** Decode bytes as UTF-8 when valid, else as Latin-1 (never throws, never yields U+FFFD for Latin-1 input). */
export function decodeText(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder("latin1").decode(bytes);
  }
}

/** Parse GoEmotions TSV text (`text<TAB>label_ids<TAB>id`). */
export function parseGoEmotionsTsv(content: string, path: string): LabelledText[] {
  const rows: LabelledText[] = [];
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    const fields = line.split("\t");
    if (fields.length < 2)
      throw new InvalidFileError(path, `line ${i + 1} has ${fields.length} tab-separated fields, expected text<TAB>label_ids<TAB>id`);
    const labels = fields[1]!.split(",").map((s) => Number(s));
    if (labels.some((l) => !Number.isInteger(l) || l < 0 || l >= JUDGE_LABELS.length)) {
      throw new InvalidFileError(
        path,
        `line ${i + 1} has label ids ${JSON.stringify(fields[1])}, expected 0..${JUDGE_LABELS.length - 1} joined by commas`,
      );
    }
    rows.push({ id: fields[2] ?? String(i), text: fields[0]!, labels });
  }
  return rows;
}

/** GoEmotions-Ekman `train` or `dev` split from the data folder. Checks `labels.txt` matches {@link JUDGE_LABELS}. */
export function loadGoEmotions(dataDir: string, split: "train" | "dev"): LabelledText[] {
  const labelsPath = dataFile(dataDir, "goemotions-ekman/labels.txt");
  const labels = readFileSync(labelsPath, "utf8")
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "");
  if (labels.join(",") !== JUDGE_LABELS.join(",")) {
    throw new InvalidFileError(labelsPath, `labels are ${labels.join(",")}, expected ${JUDGE_LABELS.join(",")}`);
  }
  const path = dataFile(dataDir, `goemotions-ekman/${split}.tsv`);
  return parseGoEmotionsTsv(decodeText(readFileSync(path)), path);
}

/** ISEAR labels the judge shares (shame and guilt are dropped). */
const ISEAR_KEPT: ReadonlySet<string> = new Set(["joy", "fear", "anger", "sadness", "disgust"]);

/**
 * ISEAR rows labelled joy/fear/anger/sadness/disgust. The file is `|`-separated with a trailing `|`;
 * SIT may itself contain `|` (rejoined with a space). The stray `á` line-break markers of the original
 * survey files are removed, and `\"`-escaped quotes unescaped. Decoded as UTF-8 when valid, else Latin-1.
 */
export function loadIsear(dataDir: string): LabelledText[] {
  const path = dataFile(dataDir, "isear/isear.csv");
  const lines = decodeText(readFileSync(path)).split(/\r?\n/);
  const header = lines[0]!.split("|");
  const labelAt = header.indexOf("Field1");
  const textAt = header.indexOf("SIT");
  const keyAt = header.indexOf("MYKEY");
  if (labelAt < 0 || textAt < 0 || keyAt < 0) throw new InvalidFileError(path, "header lacks Field1, SIT or MYKEY columns");
  const trailing = header.length - 1 - textAt; // fields after SIT, counting the empty one after the final '|'
  const rows: LabelledText[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    const fields = line.split("|");
    if (fields.length < header.length)
      throw new InvalidFileError(path, `line ${i + 1} has ${fields.length} fields, expected at least ${header.length}`);
    const label = fields[labelAt]!;
    if (!ISEAR_KEPT.has(label)) continue;
    const text = fields
      .slice(textAt, fields.length - trailing)
      .join(" ")
      .replace(/\u00e1/g, " ")
      .replace(/\\+"/g, '"')
      .replace(/\s+/g, " ")
      .trim();
    rows.push({ id: fields[keyAt]!, text, labels: [JUDGE_LABELS.indexOf(label as JudgeLabel)] });
  }
  return rows;
}
