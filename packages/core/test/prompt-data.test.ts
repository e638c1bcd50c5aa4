import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CORE_EMOTIONS, loadContrastCorpus, parseUserEmotion } from "../src/index.js";

// Validates the raw JSON files (not the loaders): the prompt data is hand-written, so the checks
// here guard its shape, size and quality against later edits.

const read = (file: string): any => JSON.parse(readFileSync(new URL(`../prompts/${file}`, import.meta.url), "utf8"));

interface RawQuery {
  id: string;
  emotion: string;
  domain: string;
  text: string;
  split: string;
}

const queries: RawQuery[] = read("queries.json").queries;
const corpus = read("contrast-corpus.json");
const corpusV2 = read("contrast-corpus-v2.json");
const newQueries = read("new-queries.json");
const longForm = read("long-form.json");
const systemPrompts = read("system-prompts.json");
const example = read("user-emotion.example.json");

const DOMAINS = [
  "education",
  "healthcare",
  "mental-health",
  "work",
  "science",
  "home-life",
  "travel",
  "money",
  "relationships",
  "technology",
  "food",
  "nature",
];
const wordCount = (text: string) => text.trim().split(/\s+/).length;
const words = (text: string) => new Set(text.toLowerCase().match(/[a-z']+/g) ?? []);
const jaccard = (a: Set<string>, b: Set<string>) => [...a].filter((w) => b.has(w)).length / new Set([...a, ...b]).size;
const extraction = queries.filter((q) => q.split === "extraction");
const evaluation = queries.filter((q) => q.split === "evaluation");

describe("queries.json", () => {
  it("has 250 queries, 50 per core emotion, split 20 extraction / 30 evaluation", () => {
    expect(read("queries.json").version).toBe(1);
    expect(queries).toHaveLength(250);
    for (const emotion of CORE_EMOTIONS) {
      const mine = queries.filter((q) => q.emotion === emotion);
      expect(mine, emotion).toHaveLength(50);
      expect(
        mine.filter((q) => q.split === "extraction"),
        emotion,
      ).toHaveLength(20);
      expect(
        mine.filter((q) => q.split === "evaluation"),
        emotion,
      ).toHaveLength(30);
    }
    expect(extraction.length + evaluation.length).toBe(250);
  });

  it("has unique ids of the form <emotion>-NNN and non-empty 1-3 sentence texts", () => {
    expect(new Set(queries.map((q) => q.id)).size).toBe(queries.length);
    for (const q of queries) {
      expect(q.id).toMatch(new RegExp(`^${q.emotion}-\\d{3}$`));
      expect(q.text.trim(), q.id).not.toBe("");
      const sentences = q.text.split(/(?<=[.?!])\s+/).length;
      expect(sentences, q.id).toBeGreaterThanOrEqual(1);
      expect(sentences, q.id).toBeLessThanOrEqual(3);
    }
  });

  it("spreads every emotion over the twelve domains", () => {
    for (const q of queries) expect(DOMAINS, q.id).toContain(q.domain);
    for (const emotion of CORE_EMOTIONS) {
      expect(new Set(queries.filter((q) => q.emotion === emotion).map((q) => q.domain)).size, emotion).toBeGreaterThanOrEqual(10);
    }
  });

  it("has no duplicate texts, and evaluation shares no (near-)duplicate text with extraction", () => {
    expect(new Set(queries.map((q) => q.text)).size).toBe(queries.length);
    const extractionTexts = new Set(extraction.map((q) => q.text));
    for (const q of evaluation) expect(extractionTexts.has(q.text), q.id).toBe(false);
    const nearDuplicates = evaluation.flatMap((e) =>
      extraction.filter((x) => jaccard(words(e.text), words(x.text)) >= 0.5).map((x) => `${e.id} ~ ${x.id}`),
    );
    expect(nearDuplicates).toEqual([]);
  });
});

describe("contrast-corpus.json", () => {
  const items: { queryId: string; neutral: string; emotional: Record<string, string> }[] = corpus.items;
  const texts = items.flatMap((item) => [item.neutral, ...CORE_EMOTIONS.map((e) => item.emotional[e]!)]);

  it("covers every extraction query exactly once, with a neutral text and all five emotions", () => {
    expect(corpus.version).toBe(1);
    expect(corpus.writer).toMatch(/\S/);
    expect(items.map((i) => i.queryId).sort()).toEqual(extraction.map((q) => q.id).sort());
    for (const item of items) {
      expect(item.neutral.trim(), item.queryId).not.toBe("");
      expect(Object.keys(item.emotional).sort(), item.queryId).toEqual([...CORE_EMOTIONS].sort());
      for (const emotion of CORE_EMOTIONS) expect(item.emotional[emotion]!.trim(), `${item.queryId}.${emotion}`).not.toBe("");
    }
  });

  it("keeps every response between 25 and 80 words, and the six responses to a query of similar length", () => {
    for (const item of items) {
      const counts = [item.neutral, ...CORE_EMOTIONS.map((e) => item.emotional[e]!)].map(wordCount);
      for (const n of counts) {
        expect(n, item.queryId).toBeGreaterThanOrEqual(25);
        expect(n, item.queryId).toBeLessThanOrEqual(80);
      }
      expect(Math.max(...counts) / Math.min(...counts), item.queryId).toBeLessThan(1.6);
    }
  });

  it("has 600 distinct responses", () => {
    expect(texts).toHaveLength(600);
    expect(new Set(texts).size).toBe(600);
  });
});

describe("contrast-corpus-v2.json", () => {
  const items: { queryId: string; neutral: string; emotional: Record<string, string> }[] = corpusV2.items;
  const v1 = new Map<string, { neutral: string; emotional: Record<string, string> }>(
    corpus.items.map((i: { queryId: string }) => [i.queryId, i]),
  );

  it("covers the same extraction queries as v1, each with a neutral text and all five emotions", () => {
    expect(corpusV2.version).toBe(2);
    expect(items.map((i) => i.queryId).sort()).toEqual(extraction.map((q) => q.id).sort());
    for (const item of items) expect(Object.keys(item.emotional).sort(), item.queryId).toEqual([...CORE_EMOTIONS].sort());
  });

  it("keeps each emotional answer within ±20 % of its neutral answer's length (the issue's rule)", () => {
    for (const item of items) {
      const n = wordCount(item.neutral);
      for (const emotion of CORE_EMOTIONS) {
        const ratio = wordCount(item.emotional[emotion]!) / n;
        expect(ratio, `${item.queryId} ${emotion}`).toBeGreaterThanOrEqual(0.8);
        expect(ratio, `${item.queryId} ${emotion}`).toBeLessThanOrEqual(1.2);
      }
    }
  });

  it("is new text: no response equals v1's, and no two responses are equal", () => {
    const all = items.flatMap((i) => [i.neutral, ...Object.values(i.emotional)]);
    expect(new Set(all).size).toBe(600);
    for (const item of items) {
      const old = v1.get(item.queryId)!;
      expect(item.neutral).not.toBe(old.neutral);
      for (const emotion of CORE_EMOTIONS) expect(item.emotional[emotion]).not.toBe(old.emotional[emotion]);
    }
  });

  it("is what loadContrastCorpus('fixed-v2') returns, while 'fixed' stays v1", () => {
    expect(loadContrastCorpus("fixed-v2").items.map((i) => i.neutral)).toEqual(items.map((i) => i.neutral));
    expect(loadContrastCorpus().items.map((i) => i.neutral)).toEqual(corpus.items.map((i: { neutral: string }) => i.neutral));
  });
});

describe("new-queries.json", () => {
  const list: { id: string; domain: string; text: string }[] = newQueries.queries;
  it("holds at least 100 everyday questions that are in no split of queries.json", () => {
    expect(list.length).toBeGreaterThanOrEqual(100);
    expect(new Set(list.map((q) => q.id)).size).toBe(list.length);
    const known = queries.map((q) => words(q.text));
    for (const q of list) {
      expect(DOMAINS, q.id).toContain(q.domain);
      const w = words(q.text);
      expect(Math.max(...known.map((k) => jaccard(w, k))), q.id).toBeLessThan(0.5);
    }
  });
});

describe("system-prompts.json", () => {
  it("has a neutral prompt and one prompt per core emotion that names it", () => {
    expect(systemPrompts.version).toBe(1);
    expect(systemPrompts.neutral).toMatch(/neutral/);
    expect(Object.keys(systemPrompts.emotions).sort()).toEqual([...CORE_EMOTIONS].sort());
    for (const emotion of CORE_EMOTIONS) expect(systemPrompts.emotions[emotion]).toContain(emotion);
  });
});

describe("long-form.json", () => {
  const prompts: { id: string; kind: string; turns: string[] }[] = longForm.prompts;

  it("has 20 long prompts with one turn and 10 multi-turn conversations with four turns", () => {
    expect(longForm.version).toBe(1);
    const long = prompts.filter((p) => p.kind === "long");
    const multi = prompts.filter((p) => p.kind === "multi-turn");
    expect(long).toHaveLength(20);
    expect(multi).toHaveLength(10);
    expect(long.length + multi.length).toBe(prompts.length);
    for (const p of long) expect(p.turns, p.id).toHaveLength(1);
    for (const p of multi) expect(p.turns, p.id).toHaveLength(4);
  });

  it("has unique ids and non-empty, distinct turns", () => {
    expect(new Set(prompts.map((p) => p.id)).size).toBe(prompts.length);
    const turns = prompts.flatMap((p) => p.turns);
    for (const t of turns) expect(t.trim()).not.toBe("");
    expect(new Set(turns).size).toBe(turns.length);
  });
});

describe("user-emotion.example.json", () => {
  it("parses as a user-defined emotion with 8 examples of corpus-like length", () => {
    const awe = parseUserEmotion(example, "user-emotion.example.json");
    expect(awe.name).toBe("awe");
    expect(awe.examples).toHaveLength(8);
    for (const e of awe.examples!) {
      for (const text of [e.neutral, e.emotional]) {
        expect(wordCount(text)).toBeGreaterThanOrEqual(25);
        expect(wordCount(text)).toBeLessThanOrEqual(80);
      }
    }
  });
});
