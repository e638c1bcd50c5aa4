// A GGUF without a chat template (Gemma 3 270m, a base model) and the registry's template for it.
import { UnsupportedCapabilityError } from "@emosteer/core";
import { ensureModel } from "@emosteer/models";
import { describe, expect, it } from "vitest";
import { createLlamaCppBackend } from "../src/index.js";

describe("a GGUF without a chat template", () => {
  it("refuses to format chats, naming the way out, and formats them with the template it is given", async () => {
    const { path, spec } = await ensureModel("gemma3-270m");
    const messages = [{ role: "user" as const, content: "How do I bake bread?" }];

    const bare = await createLlamaCppBackend({ modelPath: path, contextSize: 256, threads: 2 });
    try {
      expect(bare.model.chatTemplate).toBeUndefined();
      expect(() => bare.formatChat(messages)).toThrow(UnsupportedCapabilityError);
      expect(() => bare.formatChat(messages)).toThrow(/chatTemplate option/);
    } finally {
      await bare.dispose();
    }

    expect(spec.chatTemplate).toBeDefined();
    const templated = await createLlamaCppBackend({ modelPath: path, contextSize: 256, threads: 2, chatTemplate: spec.chatTemplate! });
    try {
      expect(templated.model.chatTemplate).toBe(spec.chatTemplate);
      const text = templated.formatChat(messages);
      expect(text).toBe("<bos><start_of_turn>user\nHow do I bake bread?<end_of_turn>\n<start_of_turn>model\n");
      // The turn markers are Gemma's special tokens, so the prompt starts BOS, <start_of_turn>, "user".
      const tokens = await templated.tokenize(text);
      expect(await templated.detokenize(tokens.slice(0, 2))).toBe("<bos><start_of_turn>");
      expect(tokens.filter((t) => t === tokens[1]).length).toBe(2);
      const answer = await templated.generate(messages, { maxTokens: 8 });
      expect(answer.tokens.length).toBeGreaterThan(0);
    } finally {
      await templated.dispose();
    }
  }, 300_000);
});
