import { fileFingerprint } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { beforeAll, describe, expect, it } from "vitest";
import { BACKEND_NAMES, openBackend, UnknownBackendError } from "../src/index.js";

describe("openBackend", () => {
  it("refuses an unknown name and lists the valid ones", async () => {
    const error = await openBackend("llamacpp", { modelPath: "/nonexistent.gguf" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownBackendError);
    expect((error as Error).message).toBe(`Unknown backend "llamacpp": choose one of llama.cpp, onnx, transformers.js.`);
  });

  describe("on the default model (SmolLM2-135M-Instruct)", () => {
    let modelPath: string;
    beforeAll(async () => {
      modelPath = (await ensureModel("smollm2-135m-instruct")).path;
    });

    // One engine open at a time: the machine is shared and each holds the whole model.
    it.each(BACKEND_NAMES)("opens %s: the engine of that name, on that model file, with the context asked for", async (name) => {
      await using backend = await openBackend(name, { modelPath, threads: 1, contextSize: 256 });
      expect(backend.name).toBe(name);
      expect(backend.contextSize).toBe(256);
      expect(backend.model).toMatchObject({ layerCount: 30, hiddenSize: 576, fingerprint: await fileFingerprint(modelPath) });
      expect(await backend.detokenize(await backend.tokenize("Hello there"))).toBe("Hello there");
    });
  });
});
