import { describe, expect, it } from "vitest";
import { checkPromptTokens, GenerationText, logSoftmaxAt, resolveGenerateOptions } from "../src/engine/index.js";
import { ContextOverflowError, InvalidArgumentError } from "../src/index.js";

/** Streams `pieces` (the decoded text after each token) through GenerationText; returns what was streamed. */
function stream(pieces: string[], stop: string[]) {
  const text = new GenerationText(stop);
  const streamed: string[] = [];
  for (const decoded of pieces) {
    streamed.push(text.update(decoded));
    if (text.stopped) break;
  }
  if (!text.stopped) streamed.push(text.finish());
  return { streamed, text: text.text, stopped: text.stopped };
}

describe("GenerationText", () => {
  it("never streams a stop string, even one split over tokens, and cuts it from the text", () => {
    const r = stream(["Hel", "Hello E", "Hello EN", "Hello END and more"], ["END"]);
    expect(r.stopped).toBe(true);
    expect(r.text).toBe("Hello ");
    expect(r.streamed.join("")).toBe("Hello ");
    expect(r.streamed.some((s) => s.includes("E"))).toBe(false);
  });

  it("releases a held tail that turned out not to be a stop string, at the latest when the generation ends", () => {
    const r = stream(["a", "a E", "a EX"], ["END"]);
    expect(r.stopped).toBe(false);
    expect(r.streamed).toEqual(["a", " ", "EX", ""]);
    const end = stream(["a", "a E"], ["END"]);
    expect(end.streamed).toEqual(["a", " ", "E"]);
    expect(end.streamed.join("")).toBe(end.text);
  });

  it("holds back an incomplete UTF-8 character until the next token completes it", () => {
    const r = stream(["caf", "caf\uFFFD", "café!"], []);
    expect(r.streamed).toEqual(["caf", "", "é!", ""]);
  });
});

describe("resolveGenerateOptions", () => {
  it("fills the defaults and refuses out-of-range values with InvalidArgumentError naming the option", () => {
    expect(resolveGenerateOptions({})).toMatchObject({ maxTokens: 128, temperature: 0, topK: 40, topP: 0.95, seed: 0, stop: [] });
    expect(resolveGenerateOptions({ maxTokens: Number.MAX_SAFE_INTEGER, stop: ["", "x"] })).toMatchObject({
      maxTokens: Number.MAX_SAFE_INTEGER,
      stop: ["x"],
    });
    for (const maxTokens of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => resolveGenerateOptions({ maxTokens })).toThrow(InvalidArgumentError);
      expect(() => resolveGenerateOptions({ maxTokens })).toThrow(/maxTokens must be a whole number ≥ 1/);
    }
    expect(() => resolveGenerateOptions({ temperature: -0.1 })).toThrow(/temperature/);
    expect(() => resolveGenerateOptions({ topK: 0 })).toThrow(/topK/);
    expect(() => resolveGenerateOptions({ topP: 0 })).toThrow(/topP/);
    expect(() => resolveGenerateOptions({ seed: -1 })).toThrow(/seed/);
  });
});

describe("checkPromptTokens", () => {
  it("returns tokens that leave room for one generated token; refuses none and a full context", () => {
    const tokens = [5, 6, 7];
    expect(checkPromptTokens("hi", tokens, 4)).toBe(tokens);
    expect(() => checkPromptTokens("", [], 4)).toThrow(InvalidArgumentError);
    expect(() => checkPromptTokens([{ role: "user", content: "" }], [], 4)).toThrow(/\(messages\)/);
    expect(() => checkPromptTokens("hi", tokens, 3)).toThrow(ContextOverflowError);
  });
});

describe("logSoftmaxAt", () => {
  it("is the log of the softmax probability, stable for large logits", () => {
    const row = Float32Array.of(1000, 1000, 0, 999);
    const p = [Math.exp(0), Math.exp(0), Math.exp(-1000), Math.exp(-1)];
    const z = p.reduce((a, b) => a + b, 0);
    expect(logSoftmaxAt(row, 0, 4, 3)).toBeCloseTo(Math.log(p[3]! / z), 6);
    expect(logSoftmaxAt(Float32Array.of(9, 0, 0), 1, 2, 0)).toBeCloseTo(Math.log(0.5), 6);
  });
});
