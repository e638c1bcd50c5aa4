import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileFingerprint } from "@emosteer/core/node";
import { ensureModel } from "@emosteer/models";
import { Tokenizer } from "@huggingface/tokenizers";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportGgufToOnnx, type ExportResult } from "../src/index.js";

const L = 30;
const H = 576;
const V = 49152;

async function run(
  session: ort.InferenceSession,
  tokens: number[],
  extra: Record<string, ort.Tensor> = {},
): Promise<ort.InferenceSession.ReturnType> {
  const S = tokens.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor("int64", BigInt64Array.from(tokens, BigInt), [1, S]),
    attention_mask: new ort.Tensor("int64", new BigInt64Array(S).fill(1n), [1, S]),
    position_ids: new ort.Tensor(
      "int64",
      BigInt64Array.from(tokens, (_, i) => BigInt(i)),
      [1, S],
    ),
    ...extra,
  };
  for (let i = 0; i < L; i++) {
    feeds[`past_key_values.${i}.key`] = new ort.Tensor("float32", new Float32Array(0), [1, 3, 0, 64]);
    feeds[`past_key_values.${i}.value`] = new ort.Tensor("float32", new Float32Array(0), [1, 3, 0, 64]);
  }
  return session.run(feeds, ["logits", "hidden_states.5"]);
}

/** Feeds of one row of `tokens` after `past` cached positions (no past tensors). */
function feedsFor(tokens: readonly number[], past: number): Record<string, ort.Tensor> {
  const S = tokens.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor("int64", BigInt64Array.from(tokens, BigInt), [1, S]),
    attention_mask: new ort.Tensor("int64", new BigInt64Array(past + S).fill(1n), [1, past + S]),
    position_ids: new ort.Tensor(
      "int64",
      BigInt64Array.from(tokens, (_, i) => BigInt(past + i)),
      [1, S],
    ),
  };
  if (past === 0) {
    for (let i = 0; i < L; i++) {
      feeds[`past_key_values.${i}.key`] = new ort.Tensor("float32", new Float32Array(0), [1, 3, 0, 64]);
      feeds[`past_key_values.${i}.value`] = new ort.Tensor("float32", new Float32Array(0), [1, 3, 0, 64]);
    }
  }
  return feeds;
}

describe("SmolLM2 export (llama)", () => {
  let ggufPath: string;
  let fp32: ExportResult;
  let tokenizer: Tokenizer;
  const tokens: number[] = [];
  const scratch: string[] = [];

  beforeAll(async () => {
    ggufPath = (await ensureModel("smollm2-135m-instruct")).path;
    fp32 = await exportGgufToOnnx({ ggufPath, precision: "fp32" });
    tokenizer = new Tokenizer(
      JSON.parse(await readFile(join(fp32.modelDir, "tokenizer.json"), "utf8")),
      JSON.parse(await readFile(join(fp32.modelDir, "tokenizer_config.json"), "utf8")),
    );
    tokens.push(
      ...tokenizer.encode("<|im_start|>user\nName three colours of the rainbow.<|im_end|>\n<|im_start|>assistant\n", {
        add_special_tokens: false,
      }).ids,
    );
  });

  afterAll(async () => {
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  });

  it("writes a transformers.js folder carrying the GGUF fingerprint, and reuses it", async () => {
    const config = JSON.parse(await readFile(join(fp32.modelDir, "config.json"), "utf8"));
    expect(config.model_type).toBe("llama");
    expect(config.num_hidden_layers).toBe(L);
    expect(config.hidden_size).toBe(H);
    expect(config.num_key_value_heads).toBe(3);
    expect(config.emosteer.fingerprint).toBe(await fileFingerprint(ggufPath));
    expect(fp32.modelDir).toContain(`${config.emosteer.fingerprint}-fp32`);
    const tokenizerConfig = JSON.parse(await readFile(join(fp32.modelDir, "tokenizer_config.json"), "utf8"));
    expect(tokenizerConfig.chat_template).toContain("<|im_start|>");
    expect(tokenizerConfig.padding_side).toBe("left");
    // Weights are external: model.onnx itself stays small.
    expect(fp32.bytes).toBeGreaterThan(500e6);
    const again = await exportGgufToOnnx({ ggufPath, precision: "fp32" });
    expect(again.cached).toBe(true);
    expect(again.modelDir).toBe(fp32.modelDir);
  });

  it("parses chat markup into the GGUF's special tokens", () => {
    expect(tokens[0]).toBe(1); // <|im_start|>
    expect(tokens).toContain(2); // <|im_end|>
    expect(tokenizer.decode(tokens)).toBe("<|im_start|>user\nName three colours of the rainbow.<|im_end|>\n<|im_start|>assistant\n");
  });

  it("zero steering gives exactly the plain (unsteerable) network", async () => {
    const plainDir = await mkdtemp(join(tmpdir(), "emosteer-plain-"));
    scratch.push(plainDir);
    await exportGgufToOnnx({ ggufPath, precision: "fp32", steerable: false, outDir: plainDir });
    const plain = await ort.InferenceSession.create(join(plainDir, "onnx", "model.onnx"));
    const steerable = await ort.InferenceSession.create(join(fp32.modelDir, "onnx", "model.onnx"));
    try {
      expect(plain.inputNames).not.toContain("steering");
      expect(steerable.inputNames).toContain("steering");
      const a = await run(plain, tokens);
      const zero = new ort.Tensor("float32", new Float32Array(L * H), [1, L, H]);
      const b = await run(steerable, tokens, { steering: zero });
      expect(Buffer.from((b.logits!.data as Float32Array).buffer).equals(Buffer.from((a.logits!.data as Float32Array).buffer))).toBe(true);
      expect(
        Buffer.from((b["hidden_states.5"]!.data as Float32Array).buffer).equals(
          Buffer.from((a["hidden_states.5"]!.data as Float32Array).buffer),
        ),
      ).toBe(true);

      // And a non-zero row 3 moves the residual after block 5 and the logits.
      const rows = new Float32Array(L * H);
      rows.fill(0.5, 3 * H, 4 * H);
      const c = await run(steerable, tokens, { steering: new ort.Tensor("float32", rows, [1, L, H]) });
      const logitsA = a.logits!.data as Float32Array;
      const logitsC = c.logits!.data as Float32Array;
      let maxDiff = 0;
      for (let i = 0; i < logitsA.length; i++) maxDiff = Math.max(maxDiff, Math.abs(logitsA[i]! - logitsC[i]!));
      expect(maxDiff).toBeGreaterThan(0.1);
    } finally {
      await plain.release();
      await steerable.release();
    }
  });

  it("batches left-padded rows exactly like unpadded single runs", async () => {
    const session = await ort.InferenceSession.create(join(fp32.modelDir, "onnx", "model.onnx"));
    try {
      const short = tokens.slice(0, 9);
      const pad = tokens.length - short.length;
      const S = tokens.length;
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor("int64", BigInt64Array.from([...new Array(pad).fill(2), ...short, ...tokens], BigInt), [2, S]),
        attention_mask: new ort.Tensor(
          "int64",
          BigInt64Array.from([...new Array(pad).fill(0), ...new Array(S - pad).fill(1), ...new Array(S).fill(1)], BigInt),
          [2, S],
        ),
        position_ids: new ort.Tensor(
          "int64",
          BigInt64Array.from([...new Array(pad).fill(0), ...short.map((_, i) => i), ...tokens.map((_, i) => i)], BigInt),
          [2, S],
        ),
        steering: new ort.Tensor("float32", new Float32Array(2 * L * H), [2, L, H]),
      };
      for (let i = 0; i < L; i++) {
        feeds[`past_key_values.${i}.key`] = new ort.Tensor("float32", new Float32Array(0), [2, 3, 0, 64]);
        feeds[`past_key_values.${i}.value`] = new ort.Tensor("float32", new Float32Array(0), [2, 3, 0, 64]);
      }
      const batched = (await session.run(feeds, ["logits"])).logits!.data as Float32Array;
      const zero = { steering: new ort.Tensor("float32", new Float32Array(L * H), [1, L, H]) };
      const alone = [
        (await run(session, short, zero)).logits!.data as Float32Array,
        (await run(session, tokens, zero)).logits!.data as Float32Array,
      ];
      let maxDiff = 0;
      for (let p = 0; p < short.length; p++) {
        for (let v = 0; v < V; v++) maxDiff = Math.max(maxDiff, Math.abs(batched[(pad + p) * V + v]! - alone[0]![p * V + v]!));
      }
      for (let i = 0; i < S * V; i++) maxDiff = Math.max(maxDiff, Math.abs(batched[S * V + i]! - alone[1]![i]!));
      expect(maxDiff).toBeLessThan(1e-3);
    } finally {
      await session.release();
    }
  });

  it("computes the same network with onnxruntime's fused kernels as with plain ONNX ops (prompt pass, then a step on its KV cache)", async () => {
    const standardDir = await mkdtemp(join(tmpdir(), "emosteer-standard-"));
    scratch.push(standardDir);
    const standard = await exportGgufToOnnx({ ggufPath, precision: "fp32", ops: "standard", outDir: standardDir });
    expect([fp32.ops, standard.ops]).toEqual(["contrib", "standard"]);
    const sessions = await Promise.all(
      [fp32.modelDir, standardDir].map((dir) => ort.InferenceSession.create(join(dir, "onnx", "model.onnx"))),
    );
    try {
      const steering = { steering: new ort.Tensor("float32", new Float32Array(L * H).fill(0.01, 4 * H, 5 * H), [1, L, H]) };
      const [fused, plain] = await Promise.all(
        sessions.map(async (session) => {
          const presents = Array.from({ length: L }, (_, i) => [`present.${i}.key`, `present.${i}.value`]).flat();
          const prompt = await session.run(
            {
              ...feedsFor(tokens, 0),
              ...steering,
            },
            ["logits", "hidden_states.5", ...presents],
          );
          // One decode step on the prompt's KV cache.
          const past: Record<string, ort.Tensor> = {};
          for (let i = 0; i < L; i++) {
            past[`past_key_values.${i}.key`] = prompt[`present.${i}.key`]!;
            past[`past_key_values.${i}.value`] = prompt[`present.${i}.value`]!;
          }
          const step = await session.run({ ...feedsFor([tokens[0]!], tokens.length), ...past, ...steering }, ["logits"]);
          return { prompt, step };
        }),
      );
      const maxDiff = (a: ort.Tensor, b: ort.Tensor) => {
        expect(a.dims).toEqual(b.dims);
        const x = a.data as Float32Array;
        const y = b.data as Float32Array;
        let max = 0;
        for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
        return max;
      };
      expect(maxDiff(fused!.prompt.logits!, plain!.prompt.logits!)).toBeLessThan(1e-3);
      expect(maxDiff(fused!.prompt["hidden_states.5"]!, plain!.prompt["hidden_states.5"]!)).toBeLessThan(1e-3);
      expect(maxDiff(fused!.prompt["present.7.key"]!, plain!.prompt["present.7.key"]!)).toBeLessThan(1e-3);
      expect(maxDiff(fused!.step.logits!, plain!.step.logits!)).toBeLessThan(1e-3);
    } finally {
      for (const session of sessions) await session.release();
    }
  });

  it("answers a factual prompt sensibly (greedy, fp32)", async () => {
    const session = await ort.InferenceSession.create(join(fp32.modelDir, "onnx", "model.onnx"));
    try {
      const prompt = tokenizer.encode("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n", {
        add_special_tokens: false,
      }).ids;
      const out = await run(session, prompt, { steering: new ort.Tensor("float32", new Float32Array(L * H), [1, L, H]) });
      const logits = out.logits!.data as Float32Array;
      const last = logits.subarray((prompt.length - 1) * V, prompt.length * V);
      const top = last.indexOf(Math.max(...last));
      expect(tokenizer.decode([top])).toBe("The");
    } finally {
      await session.release();
    }
  });
});
