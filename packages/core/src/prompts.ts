import contrastCorpusJson from "../prompts/contrast-corpus.json" with { type: "json" };
import contrastCorpusV2Json from "../prompts/contrast-corpus-v2.json" with { type: "json" };
import longFormJson from "../prompts/long-form.json" with { type: "json" };
import queriesJson from "../prompts/queries.json" with { type: "json" };
import systemPromptsJson from "../prompts/system-prompts.json" with { type: "json" };
import { CORE_EMOTIONS, type CoreEmotion, type Emotion } from "./emotion.js";
import { InvalidFileError } from "./errors.js";

/** `"extraction"` queries build vectors; `"evaluation"` queries are held out to measure them. */
export type QuerySplit = "extraction" | "evaluation";

/** A user query of the built-in prompt set. */
export interface PromptQuery {
  readonly id: string;
  /** The emotion the query's situation evokes. */
  readonly emotion: Emotion;
  /** Topic, e.g. `"work"`, `"healthcare"`. */
  readonly domain: string;
  readonly text: string;
  readonly split: QuerySplit;
}

export interface QuerySet {
  readonly version: number;
  readonly queries: readonly PromptQuery[];
}

/** Neutral and emotional responses to one extraction query, written once and teacher-forced through every model. */
export interface ContrastItem {
  readonly queryId: string;
  readonly neutral: string;
  readonly emotional: Readonly<Record<CoreEmotion, string>>;
}

export interface ContrastCorpus {
  readonly version: number;
  /** Who wrote the responses. */
  readonly writer: string;
  readonly items: readonly ContrastItem[];
}

/** System prompts that make a model answer neutrally or with one core emotion ("self" extraction, baselines). */
export interface SystemPrompts {
  readonly neutral: string;
  readonly emotions: Readonly<Record<CoreEmotion, string>>;
}

/** A long-generation or multi-turn prompt, for checking that steering holds over many tokens and turns. */
export interface LongFormPrompt {
  readonly id: string;
  readonly kind: "long" | "multi-turn";
  /** User turns, in order (one for `"long"`). */
  readonly turns: readonly string[];
}

/**
 * Where an extraction's contrast pairs come from: `"fixed"`, the repo's contrast corpus v1 (the
 * emotion mostly in an opener or an aside); `"fixed-v2"`, corpus v2 (the emotion pervades every
 * sentence, same facts and advice, length within ±20 %); `"self"`, answers the model writes itself
 * under emotion-conditioning system prompts. The fixed corpora are teacher-forced, identical for
 * every model and engine.
 */
export type ContrastCorpusName = "fixed" | "fixed-v2" | "self";
export const CONTRAST_CORPUS_NAMES: readonly ContrastCorpusName[] = ["fixed", "fixed-v2", "self"];
export function isContrastCorpusName(value: string): value is ContrastCorpusName {
  return (CONTRAST_CORPUS_NAMES as readonly string[]).includes(value);
}
/** The contrast corpora written into the repo (all but `"self"`). */
export type FixedCorpusName = Exclude<ContrastCorpusName, "self">;

let queries: QuerySet | undefined;
const corpora = new Map<FixedCorpusName, ContrastCorpus>();
let systemPrompts: SystemPrompts | undefined;
let longForm: readonly LongFormPrompt[] | undefined;

/** The built-in queries (`prompts/queries.json`). */
export function loadQueries(): QuerySet {
  queries ??= parseQueries(queriesJson);
  return queries;
}

/**
 * A built-in contrast corpus: `"fixed"` is `prompts/contrast-corpus.json` (v1), `"fixed-v2"` is
 * `prompts/contrast-corpus-v2.json`; each covers the extraction queries.
 */
export function loadContrastCorpus(name: FixedCorpusName = "fixed"): ContrastCorpus {
  let corpus = corpora.get(name);
  if (!corpus) {
    corpus = name === "fixed" ? parseContrastCorpus(contrastCorpusJson, CORPUS) : parseContrastCorpus(contrastCorpusV2Json, CORPUS_V2);
    corpora.set(name, corpus);
  }
  return corpus;
}

/** The built-in system prompts (`prompts/system-prompts.json`). */
export function loadSystemPrompts(): SystemPrompts {
  systemPrompts ??= parseSystemPrompts(systemPromptsJson);
  return systemPrompts;
}

/** The built-in long-form and multi-turn prompts (`prompts/long-form.json`). */
export function loadLongFormPrompts(): readonly LongFormPrompt[] {
  longForm ??= parseLongForm(longFormJson);
  return longForm;
}

const QUERIES = "@emosteer/core/prompts/queries.json";
const CORPUS = "@emosteer/core/prompts/contrast-corpus.json";
const CORPUS_V2 = "@emosteer/core/prompts/contrast-corpus-v2.json";
const SYSTEM_PROMPTS = "@emosteer/core/prompts/system-prompts.json";
const LONG_FORM = "@emosteer/core/prompts/long-form.json";

function parseQueries(json: unknown): QuerySet {
  const root = record(json, QUERIES, "the file");
  const list = array(root.queries, QUERIES, "queries");
  const ids = new Set<string>();
  const parsed = list.map((entry, i): PromptQuery => {
    const q = record(entry, QUERIES, `queries[${i}]`);
    const split = text(q.split, QUERIES, `queries[${i}].split`);
    if (split !== "extraction" && split !== "evaluation")
      throw new InvalidFileError(QUERIES, `queries[${i}].split is "${split}", expected "extraction" or "evaluation"`);
    const id = text(q.id, QUERIES, `queries[${i}].id`);
    if (ids.has(id)) throw new InvalidFileError(QUERIES, `queries[${i}].id "${id}" is used twice`);
    ids.add(id);
    return {
      id,
      emotion: text(q.emotion, QUERIES, `queries[${i}].emotion`),
      domain: text(q.domain, QUERIES, `queries[${i}].domain`),
      text: text(q.text, QUERIES, `queries[${i}].text`),
      split,
    };
  });
  return { version: Number(root.version ?? 0), queries: parsed };
}

function parseContrastCorpus(json: unknown, path: string): ContrastCorpus {
  const root = record(json, path, "the file");
  const items = array(root.items, path, "items").map((entry, i): ContrastItem => {
    const item = record(entry, path, `items[${i}]`);
    return {
      queryId: text(item.queryId, path, `items[${i}].queryId`),
      neutral: text(item.neutral, path, `items[${i}].neutral`),
      emotional: coreEmotionTexts(item.emotional, path, `items[${i}].emotional`),
    };
  });
  return { version: Number(root.version ?? 0), writer: typeof root.writer === "string" ? root.writer : "", items };
}

function parseSystemPrompts(json: unknown): SystemPrompts {
  const root = record(json, SYSTEM_PROMPTS, "the file");
  return { neutral: text(root.neutral, SYSTEM_PROMPTS, "neutral"), emotions: coreEmotionTexts(root.emotions, SYSTEM_PROMPTS, "emotions") };
}

function parseLongForm(json: unknown): LongFormPrompt[] {
  const root = record(json, LONG_FORM, "the file");
  return array(root.prompts, LONG_FORM, "prompts").map((entry, i): LongFormPrompt => {
    const prompt = record(entry, LONG_FORM, `prompts[${i}]`);
    const kind = prompt.kind;
    if (kind !== "long" && kind !== "multi-turn")
      throw new InvalidFileError(LONG_FORM, `prompts[${i}].kind is ${JSON.stringify(kind)}, expected "long" or "multi-turn"`);
    const turns = array(prompt.turns, LONG_FORM, `prompts[${i}].turns`).map((t, k) => text(t, LONG_FORM, `prompts[${i}].turns[${k}]`));
    if (turns.length === 0) throw new InvalidFileError(LONG_FORM, `prompts[${i}].turns is empty`);
    return { id: text(prompt.id, LONG_FORM, `prompts[${i}].id`), kind, turns };
  });
}

function coreEmotionTexts(value: unknown, path: string, field: string): Record<CoreEmotion, string> {
  const r = record(value, path, field);
  return Object.fromEntries(CORE_EMOTIONS.map((e) => [e, text(r[e], path, `${field}.${e}`)])) as Record<CoreEmotion, string>;
}

function record(value: unknown, path: string, field: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new InvalidFileError(path, `${field} must be an object`);
  return value as Record<string, unknown>;
}

function array(value: unknown, path: string, field: string): unknown[] {
  if (!Array.isArray(value)) throw new InvalidFileError(path, `${field} must be an array`);
  return value;
}

function text(value: unknown, path: string, field: string): string {
  if (typeof value !== "string" || value.trim() === "") throw new InvalidFileError(path, `${field} must be a non-empty string`);
  return value;
}
