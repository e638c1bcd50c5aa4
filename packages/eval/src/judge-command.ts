import { existsSync, readFileSync } from "node:fs";
import { extname } from "node:path";
import { parseArgs } from "node:util";
import { InvalidFileError } from "@emosteer/core";
import { writeFileAtomic } from "@emosteer/core/node";
import { decodeText, JUDGE_LABELS, type JudgeLabel } from "./data.js";
import { createJudge, isJudgeName, JUDGE_NAMES } from "./judge.js";
import { scoreClassification } from "./judge-evaluation.js";

/** Where the command writes; defaults to the process streams. */
export interface CommandIO {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

interface InputRow {
  readonly text: string;
  readonly id?: string;
  /** Gold label indices, when the input carries labels. */
  readonly labels?: number[];
}

const USAGE = `Usage: emosteer judge --in FILE [--out FILE] [--format jsonl|tsv] [--judge v1|v2] [--judge-file FILE]
                     [--data-dir DIR] [--cache-dir DIR]

Classifies every text of FILE with the emotion judge (v2 by default: the committed
packages/eval/judges/v2.judge; --judge v1 trains or loads the first judge from the data folder;
--judge-file loads any judge file) and writes one probability per class
(${JUDGE_LABELS.join(", ")}) for each row: JSONL by default (or when --out ends in .jsonl),
TSV when --out ends in .tsv or --format tsv. Without --out, rows go to standard output.

FILE is JSONL ({"text": ..., optional "label"/"labels"}) when it ends in .jsonl/.json, else TSV:
GoEmotions rows (text<TAB>label_ids<TAB>id) or a single text column. When rows carry labels,
accuracy and macro-F1 are printed to standard error.`;

function labelIndex(value: unknown, where: string): number {
  const i = typeof value === "number" ? value : JUDGE_LABELS.indexOf(String(value).toLowerCase() as JudgeLabel);
  if (!Number.isInteger(i) || i < 0 || i >= JUDGE_LABELS.length)
    throw new Error(
      `${where}: unknown label ${JSON.stringify(value)}; use one of ${JUDGE_LABELS.join(", ")} or 0-${JUDGE_LABELS.length - 1}`,
    );
  return i;
}

function readRows(path: string): InputRow[] {
  if (!existsSync(path)) throw new InvalidFileError(path, "input file does not exist");
  const content = decodeText(readFileSync(path));
  const lines = content.split(/\r?\n/);
  const rows: InputRow[] = [];
  const jsonl = [".jsonl", ".json", ".ndjson"].includes(extname(path).toLowerCase());
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    if (jsonl) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new InvalidFileError(path, `line ${i + 1} is not JSON`);
      }
      const o = value as { text?: unknown; id?: unknown; label?: unknown; labels?: unknown };
      if (typeof o !== "object" || o === null || typeof o.text !== "string")
        throw new InvalidFileError(path, `line ${i + 1} lacks a string "text" field`);
      const raw = o.labels ?? (o.label === undefined ? undefined : [o.label]);
      const labels = raw === undefined ? undefined : (Array.isArray(raw) ? raw : [raw]).map((l) => labelIndex(l, `${path} line ${i + 1}`));
      rows.push({ text: o.text, id: o.id === undefined ? undefined : String(o.id), labels });
    } else {
      const fields = line.split("\t");
      if (fields.length >= 2 && /^\d+(,\d+)*$/.test(fields[1]!.trim())) {
        rows.push({
          text: fields[0]!,
          id: fields[2],
          labels: fields[1]!
            .trim()
            .split(",")
            .map((l) => labelIndex(Number(l), `${path} line ${i + 1}`)),
        });
      } else rows.push({ text: fields.length >= 2 ? fields[0]! : line });
    }
  }
  return rows;
}

/**
 * `emosteer judge --in FILE [--out FILE]`: classify a TSV or JSONL file with the judge (see USAGE).
 * Returns the process exit code (0 ok, 1 bad input, 2 bad usage) and never calls process.exit.
 */
export async function runJudgeCommand(argv: readonly string[], io: CommandIO = process): Promise<number> {
  let values: {
    in?: string;
    out?: string;
    format?: string;
    judge?: string;
    "judge-file"?: string;
    "data-dir"?: string;
    "cache-dir"?: string;
    help?: boolean;
  };
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        in: { type: "string" },
        out: { type: "string" },
        format: { type: "string" },
        judge: { type: "string" },
        "judge-file": { type: "string" },
        "data-dir": { type: "string" },
        "cache-dir": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: false,
    }).values;
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.in) {
    io.stderr.write(`Missing --in FILE.\n\n${USAGE}\n`);
    return 2;
  }
  const format = values.format ?? (values.out && extname(values.out).toLowerCase() === ".tsv" ? "tsv" : "jsonl");
  if (format !== "jsonl" && format !== "tsv") {
    io.stderr.write(`--format must be jsonl or tsv, got ${format}.\n`);
    return 2;
  }
  if (values.judge !== undefined && !isJudgeName(values.judge)) {
    io.stderr.write(`--judge must be one of ${JUDGE_NAMES.join(", ")}, got ${values.judge}.\n`);
    return 2;
  }
  const judgeName = values.judge;
  try {
    const rows = readRows(values.in);
    const judge = await createJudge({
      ...(judgeName && isJudgeName(judgeName) ? { judge: judgeName } : {}),
      judgeFile: values["judge-file"],
      dataDir: values["data-dir"],
      cacheDir: values["cache-dir"],
      onProgress: (p) => io.stderr.write(`[judge] ${p.message}\n`),
    });
    const out: string[] = [];
    if (format === "tsv") out.push(["text", ...JUDGE_LABELS, "predicted"].join("\t"));
    const predicted: number[] = [];
    const all = await judge.probabilitiesMany(rows.map((r) => r.text));
    await judge.dispose();
    for (const [i, row] of rows.entries()) {
      const p = all[i]!;
      let best = 0;
      for (let c = 1; c < p.length; c++) if (p[c]! > p[best]!) best = c;
      predicted.push(best);
      if (format === "tsv") {
        out.push([row.text.replace(/[\t\r\n]+/g, " "), ...Array.from(p, (v) => v.toFixed(6)), JUDGE_LABELS[best]].join("\t"));
      } else {
        const probabilities = Object.fromEntries(JUDGE_LABELS.map((l, c) => [l, Number(p[c]!.toFixed(6))]));
        out.push(
          JSON.stringify({ ...(row.id === undefined ? {} : { id: row.id }), text: row.text, probabilities, predicted: JUDGE_LABELS[best] }),
        );
      }
    }
    const body = out.length ? `${out.join("\n")}\n` : "";
    if (values.out) await writeFileAtomic(values.out, body);
    else io.stdout.write(body);
    const labelled = rows.map((r, i) => [r, i] as const).filter(([r]) => r.labels !== undefined);
    if (labelled.length > 0) {
      const s = scoreClassification(
        labelled.map(([r]) => r.labels!),
        labelled.map(([, i]) => predicted[i]!),
        JUDGE_LABELS.length,
      );
      io.stderr.write(`${labelled.length} labelled rows: accuracy ${s.accuracy.toFixed(4)}, macro-F1 ${s.macroF1.toFixed(4)}\n`);
    }
    io.stderr.write(
      `${rows.length} rows classified by judge ${judge.name} ${judge.id.slice(0, 12)}${values.out ? ` into ${values.out}` : ""}.\n`,
    );
    return 0;
  } catch (error) {
    io.stderr.write(`emosteer judge: ${(error as Error).message}\n`);
    return 1;
  }
}
