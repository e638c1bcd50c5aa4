import { describe, expect, it } from "vitest";
import exampleEmotion from "../prompts/user-emotion.example.json" with { type: "json" };
import { CORE_EMOTIONS, loadContrastCorpus, loadLongFormPrompts, loadQueries, loadSystemPrompts, parseUserEmotion } from "../src/index.js";

describe("built-in prompt sets", () => {
  it("queries have unique ids, a known split and a core emotion", () => {
    const { queries } = loadQueries();
    expect(queries.length).toBeGreaterThan(0);
    expect(new Set(queries.map((q) => q.id)).size).toBe(queries.length);
    expect(queries.some((q) => q.split === "extraction")).toBe(true);
    expect(queries.some((q) => q.split === "evaluation")).toBe(true);
    for (const q of queries) expect(CORE_EMOTIONS).toContain(q.emotion);
  });

  it("the contrast corpus answers every extraction query once, with a text per core emotion", () => {
    const byId = new Map(loadQueries().queries.map((q) => [q.id, q]));
    const { items } = loadContrastCorpus();
    const extraction = loadQueries()
      .queries.filter((q) => q.split === "extraction")
      .map((q) => q.id);
    expect(items.map((i) => i.queryId).sort()).toEqual(extraction.sort());
    for (const item of items) {
      expect(byId.get(item.queryId)?.split).toBe("extraction");
      for (const emotion of CORE_EMOTIONS) expect(item.emotional[emotion].length).toBeGreaterThan(0);
    }
  });

  it("system prompts cover neutral and every core emotion", () => {
    const prompts = loadSystemPrompts();
    expect(prompts.neutral).toMatch(/neutral/);
    for (const emotion of CORE_EMOTIONS) expect(prompts.emotions[emotion]).toContain(emotion === "sadness" ? "sad" : emotion);
  });

  it("long-form prompts are single long prompts or several user turns", () => {
    const prompts = loadLongFormPrompts();
    expect(prompts.some((p) => p.kind === "long")).toBe(true);
    for (const p of prompts) expect(p.kind === "long" ? p.turns.length === 1 : p.turns.length > 1).toBe(true);
  });

  it("the example user emotion file parses", () => {
    const awe = parseUserEmotion(exampleEmotion, "user-emotion.example.json");
    expect(awe.name).toBe("awe");
    expect(awe.examples!.length).toBeGreaterThan(0);
  });
});
