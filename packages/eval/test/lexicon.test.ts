import { describe, expect, it } from "vitest";
import { inflectionCandidates, LexiconScorer, loadLexicon, parseEmoLex } from "../src/lexicon.js";
import { deltaEasPercent } from "../src/metrics.js";
import { MissingDataError } from "../src/paths.js";

const tiny = new LexiconScorer(
  parseEmoLex(
    [
      "happy\tjoy\t1",
      "happy\tanger\t0",
      "love\tjoy\t1",
      "cry\tsadness\t1",
      "stop\tanger\t1",
      "hope\tjoy\t1",
      "awful\tdisgust\t1",
      "awful\tsadness\t1",
      "trust\ttrust\t1",
    ].join("\n"),
  ),
);

describe("lexicon scorer (hand-made lexicon)", () => {
  it("counts hits per 100 words", () => {
    const s = tiny.score("I am happy and I love you");
    expect(s.words).toBe(7);
    expect(s.hits.joy).toBe(2);
    expect(s.perHundredWords.joy).toBeCloseTo(200 / 7, 12);
    expect(s.perHundredWords.anger).toBe(0);
  });

  it("a word with two emotions counts for both; non-core categories are ignored", () => {
    const s = tiny.score("awful trust");
    expect(s.hits).toEqual({ joy: 0, anger: 0, disgust: 1, fear: 0, sadness: 1 });
  });

  it("handles inflections: -s, -es, -ies, -ed, -ing, -ly and doubled consonants", () => {
    expect(tiny.emotionsOfWord("loved")).toEqual(["joy"]);
    expect(tiny.emotionsOfWord("loving")).toEqual(["joy"]);
    expect(tiny.emotionsOfWord("loves")).toEqual(["joy"]);
    expect(tiny.emotionsOfWord("hoping")).toEqual(["joy"]);
    expect(tiny.emotionsOfWord("cries")).toEqual(["sadness"]);
    expect(tiny.emotionsOfWord("cried")).toEqual(["sadness"]);
    expect(tiny.emotionsOfWord("stopped")).toEqual(["anger"]);
    expect(tiny.emotionsOfWord("stopping")).toEqual(["anger"]);
    expect(tiny.emotionsOfWord("happily")).toEqual(["joy"]);
    expect(tiny.emotionsOfWord("awfully")).toEqual(["disgust", "sadness"]);
    expect(tiny.emotionsOfWord("HAPPY")).toEqual(["joy"]);
    expect(tiny.emotionsOfWord("table")).toEqual([]);
    expect(inflectionCandidates("is")).toEqual(["is"]); // too short to strip
  });

  it("negation within 3 words of the same clause cancels a hit", () => {
    expect(tiny.score("I am not happy").hits.joy).toBe(0);
    expect(tiny.score("I am not happy").negated).toBe(1);
    expect(tiny.score("I don't love it").hits.joy).toBe(0);
    expect(tiny.score("never really very happy").hits.joy).toBe(0); // 3 words after the negator
    expect(tiny.score("not that I was ever happy").hits.joy).toBe(1); // 5 words after: out of the window
    expect(tiny.score("Not sad, happy!").hits.joy).toBe(1); // the comma ends the negated clause
    expect(tiny.score("I am not happy").words).toBe(4); // negators still count as words
  });

  it("empty or word-less text scores 0 with 0 words (no NaN)", () => {
    for (const t of ["", "   ", "!!! ???", "😀 🎉"]) {
      const s = tiny.score(t);
      expect(s.words).toBe(0);
      expect(Object.values(s.perHundredWords).every((v) => v === 0)).toBe(true);
    }
  });

  it("rejects a file that is not EmoLex", () => {
    expect(() => parseEmoLex("hello world", "x.txt")).toThrow(/x.txt: line 1/);
    expect(() => parseEmoLex("a\tpositive\t1", "x.txt")).toThrow(/no word is associated/);
  });
});

describe("NRC EmoLex from the data folder", () => {
  const lexicon = loadLexicon();

  it("loads the core-emotion words", () => {
    expect(lexicon.size).toBeGreaterThan(3000);
    expect(lexicon.emotionsOfWord("happy")).toContain("joy");
    expect(lexicon.emotionsOfWord("terror")).toContain("fear");
  });

  it("scores real sentences with negation and inflection", () => {
    expect(lexicon.score("I am so happy today!").perHundredWords.joy).toBe(20);
    expect(lexicon.score("I am not happy today.").perHundredWords.joy).toBe(0);
    expect(lexicon.score("She happily loved the gifts").hits.joy).toBeGreaterThanOrEqual(3);
  });

  it("docs/metrics.md worked example: EAS and ΔEAS", () => {
    const eas = (t: string) => lexicon.score(t).perHundredWords.joy;
    const steered = [
      "I am so happy today, what a lovely gift!",
      "We laughed and celebrated all night.",
      "We laughed and celebrated all night.",
    ].map(eas);
    const baseline = ["The meeting is at noon.", "I am not happy about the delay.", "We laughed and celebrated all night."].map(eas);
    expect(steered.map((v) => Number(v.toFixed(2)))).toEqual([33.33, 33.33, 33.33]);
    expect(baseline.map((v) => Number(v.toFixed(2)))).toEqual([0, 0, 33.33]);
    const d = deltaEasPercent(steered, baseline);
    expect(d.percent).toBeCloseTo(200, 9);
    expect(d.absolute).toBeCloseTo(200 / 9, 9);
  });

  it("names the missing folder", () => {
    expect(() => loadLexicon({ dataDir: "/nonexistent/emosteer-data" })).toThrow(MissingDataError);
    expect(() => loadLexicon({ dataDir: "/nonexistent/emosteer-data" })).toThrow(/EMOSTEER_DATA_DIR/);
  });
});
