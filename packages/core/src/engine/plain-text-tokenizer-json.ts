/**
 * A Hugging Face `tokenizer.json` whose special added tokens are gone, so a tokenizer built from
 * it reads `<|im_start|>` as the characters it is made of. The JavaScript tokenizers have no
 * "parse special tokens: off" switch (llama.cpp's `parse_special = false`); the two ONNX-based
 * engines build their plain-text tokenizer from this. Added tokens that are not special stay, as
 * llama.cpp keeps parsing user-defined tokens with special parsing off.
 */
export function plainTextTokenizerJson<T extends object>(tokenizerJson: T): T {
  const added = (tokenizerJson as { added_tokens?: unknown }).added_tokens;
  if (!Array.isArray(added)) return tokenizerJson;
  return { ...tokenizerJson, added_tokens: added.filter((token: { special?: boolean }) => token.special !== true) };
}
