import { InvalidFileError } from "../errors.js";
import type { ModelInfo } from "../model-info.js";
import type { GgufFile } from "./reader.js";

/**
 * The {@link ModelInfo} of a GGUF model file. `fingerprint` is the first 16 hex digits of the
 * file's sha256 (`fileFingerprint` in `@emosteer/core/node` computes and caches it).
 * Throws {@link InvalidFileError} when a required key is missing or not a positive integer.
 */
export function modelInfoFromGguf(gguf: GgufFile, options: { fingerprint: string }): ModelInfo {
  const file = gguf.source.name;
  const architecture = gguf.get("general.architecture");
  if (typeof architecture !== "string" || architecture.length === 0) {
    throw new InvalidFileError(file, "general.architecture is missing: this GGUF file is not a model (a vector or adapter file?)");
  }
  const count = (key: string): number | undefined => {
    const v = gguf.get(key);
    if (v === undefined) return undefined;
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0) {
      throw new InvalidFileError(file, `${key} is ${String(v)}, expected a positive integer`);
    }
    return n;
  };
  const required = (key: string): number => {
    const n = count(key);
    if (n === undefined) throw new InvalidFileError(file, `${key} is missing: is "${architecture}" a transformer language model?`);
    return n;
  };
  const tokens = gguf.get("tokenizer.ggml.tokens");
  const vocabSize = count(`${architecture}.vocab_size`) ?? (Array.isArray(tokens) ? tokens.length : undefined);
  if (vocabSize === undefined)
    throw new InvalidFileError(
      file,
      `neither ${architecture}.vocab_size nor tokenizer.ggml.tokens is present, so the vocabulary size is unknown`,
    );
  const name = gguf.get("general.name");
  const chatTemplate = gguf.get("tokenizer.chat_template");
  return {
    architecture,
    name: typeof name === "string" && name.length > 0 ? name : architecture,
    layerCount: required(`${architecture}.block_count`),
    hiddenSize: required(`${architecture}.embedding_length`),
    vocabSize,
    contextLength: required(`${architecture}.context_length`),
    fingerprint: options.fingerprint,
    ...(typeof chatTemplate === "string" ? { chatTemplate } : {}),
  };
}
