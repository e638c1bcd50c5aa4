import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadQueries } from "@emosteer/core";

/** A query the bench asks every condition. */
export interface BenchQuery {
  /** Built-in id (e.g. `"joy-031"`), or `file-<sha256 prefix of the text>` for --query-file lines. */
  readonly id: string;
  readonly text: string;
  /** Emotion the query's situation evokes, when known. */
  readonly emotion: string | null;
}

/**
 * The evaluation queries: the first `count` of the built-in evaluation split taken round-robin
 * over the query emotions (so any prefix is balanced), or the lines of `file`.
 */
export function evaluationQueries(options: { readonly count: number | "all"; readonly file: string | null }): BenchQuery[] {
  const all = options.file
    ? queriesFromFile(options.file)
    : balanced(
        loadQueries()
          .queries.filter((q) => q.split === "evaluation")
          .map((q) => ({ id: q.id, text: q.text, emotion: q.emotion })),
      );
  return options.count === "all" ? all : all.slice(0, options.count);
}

/** One query per non-empty line; ids are content hashes so that editing the file never mixes up stored cells. */
export function queriesFromFile(path: string): BenchQuery[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`Cannot read --query-file ${path}: ${(error as Error).message}. Pass a text file with one query per line.`);
  }
  const lines = [
    ...new Set(
      text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter(Boolean),
    ),
  ];
  if (lines.length === 0) throw new Error(`--query-file ${path} has no queries: write one query per line.`);
  return lines.map((line) => ({ id: `file-${createHash("sha256").update(line).digest("hex").slice(0, 12)}`, text: line, emotion: null }));
}

function balanced(queries: readonly BenchQuery[]): BenchQuery[] {
  const groups = new Map<string, BenchQuery[]>();
  for (const q of queries) {
    const key = q.emotion ?? "";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(q);
  }
  const lists = [...groups.values()];
  const out: BenchQuery[] = [];
  for (let i = 0; out.length < queries.length; i++) for (const list of lists) if (i < list.length) out.push(list[i]!);
  return out;
}
