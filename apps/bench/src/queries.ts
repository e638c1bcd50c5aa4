import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadQueries } from "@emosteer/core";
import newQueriesJson from "@emosteer/core/prompts/new-queries.json" with { type: "json" };

/** A query the bench asks every condition. */
export interface BenchQuery {
  /** Built-in id (e.g. `"joy-031"`), or `file-<sha256 prefix of the text>` for --query-file lines. */
  readonly id: string;
  readonly text: string;
  /** Emotion the query's situation evokes, when known. */
  readonly emotion: string | null;
}

/**
 * Which built-in queries the bench asks: `"evaluation"`, the evaluation split of the project's
 * queries (written to invite an emotion); `"new"`, `prompts/new-queries.json`, everyday questions
 * held out of every split and of the judge's data (mostly plain factual and practical ones), for
 * in-sample against new-query figures.
 */
export type QuerySetName = "evaluation" | "new";
export const QUERY_SET_NAMES: readonly QuerySetName[] = ["evaluation", "new"];

/**
 * The queries of a run: the first `count` of the built-in set taken round-robin over the query
 * emotions (evaluation) or domains (new), so any prefix is balanced; or the lines of `file`.
 */
export function evaluationQueries(options: {
  readonly count: number | "all";
  readonly file: string | null;
  readonly set?: QuerySetName;
}): BenchQuery[] {
  const all = options.file ? queriesFromFile(options.file) : builtInQueries(options.set ?? "evaluation");
  return options.count === "all" ? all : all.slice(0, options.count);
}

function builtInQueries(set: QuerySetName): BenchQuery[] {
  if (set === "new") return balanced(newQueries(), (q) => q.domain);
  return balanced(
    loadQueries()
      .queries.filter((q) => q.split === "evaluation")
      .map((q) => ({ id: q.id, text: q.text, emotion: q.emotion, domain: q.domain })),
    (q) => q.emotion ?? "",
  );
}

/** The committed new-query file; its ids (`new-001`…) never collide with the evaluation split's. */
function newQueries(): (BenchQuery & { readonly domain: string })[] {
  const { queries } = newQueriesJson as {
    readonly queries: readonly { readonly id: string; readonly domain: string; readonly text: string }[];
  };
  return queries.map((q) => ({ id: q.id, text: q.text, emotion: null, domain: q.domain }));
}

/** Which set a stored cell's query belongs to, from its id. */
export function querySetOf(queryId: string): QuerySetName | "file" {
  if (queryId.startsWith("file-")) return "file";
  return queryId.startsWith("new-") ? "new" : "evaluation";
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

function balanced<Q extends BenchQuery>(queries: readonly Q[], groupOf: (q: Q) => string): BenchQuery[] {
  const groups = new Map<string, Q[]>();
  for (const q of queries) {
    const key = groupOf(q);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(q);
  }
  const lists = [...groups.values()];
  const out: BenchQuery[] = [];
  for (let i = 0; out.length < queries.length; i++)
    for (const list of lists) if (i < list.length) out.push({ id: list[i]!.id, text: list[i]!.text, emotion: list[i]!.emotion });
  return out;
}
