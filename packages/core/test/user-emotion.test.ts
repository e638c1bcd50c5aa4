import { describe, expect, it } from "vitest";
import { InvalidEmotionDefinitionError, parseUserEmotion } from "../src/index.js";

const valid = {
  name: "awe",
  conditioningPrompt: "You are a helpful assistant who feels deep awe.",
  examples: [
    {
      query: "What is a galaxy?",
      neutral: "A galaxy is a system of stars.",
      emotional: "A galaxy! Billions of stars, bound together. It is breathtaking.",
    },
  ],
};

describe("parseUserEmotion", () => {
  it("parses JSON text or a value, with or without examples", () => {
    expect(parseUserEmotion(JSON.stringify(valid))).toEqual(valid);
    expect(parseUserEmotion({ name: "nostalgia", conditioningPrompt: "Feel nostalgic." })).toEqual({
      name: "nostalgia",
      conditioningPrompt: "Feel nostalgic.",
    });
  });

  it.each([
    ["not json", "(file)", /not valid JSON/],
    [[], "(root)", /must be a JSON object/],
    [{ ...valid, name: undefined }, "name", /field is missing/],
    [{ ...valid, name: "Awe!" }, "name", /lower-case letters/],
    [{ ...valid, name: "joy" }, "name", /core emotion/],
    [{ ...valid, conditioningPrompt: "  " }, "conditioningPrompt", /non-empty string .*an empty string/],
    [{ ...valid, conditioning_prompt: "x" }, "conditioning_prompt", /unknown field; allowed fields are name, conditioningPrompt, examples/],
    [{ ...valid, examples: [] }, "examples", /non-empty array/],
    [
      { ...valid, examples: [valid.examples[0], { ...valid.examples[0], emotional: 3 }] },
      "examples[1].emotional",
      /expressing awe.*got a number/,
    ],
    [{ ...valid, examples: [{ ...valid.examples[0], answer: "x" }] }, "examples[0].answer", /unknown field/],
  ])("rejects %j naming field %s", (input, field, message) => {
    const parse = () => parseUserEmotion(typeof input === "string" ? input : (input as unknown), "awe.json");
    expect(parse).toThrow(InvalidEmotionDefinitionError);
    expect(parse).toThrow(message);
    try {
      parse();
    } catch (error) {
      expect((error as InvalidEmotionDefinitionError).field).toBe(field);
      expect((error as Error).message.startsWith(`awe.json: ${field}: `)).toBe(true);
    }
  });
});
