import { InvalidFileError, type GgufFile } from "@emosteer/core";

/** GGUF `tokenizer.ggml.token_type` values (llama_token_type). */
const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

const GPT2_SPLIT = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const CASE_FREE_CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

const QWEN2_SPLIT = `${CASE_FREE_CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const LLAMA3_SPLIT = `${CASE_FREE_CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;

/**
 * Pre-tokenizer regexes by `tokenizer.ggml.pre`, copied from llama.cpp's llama-vocab.cpp (applied in
 * order, each splitting the pieces of the previous one). JS regexes lack `(?i:…)`, so the
 * contractions use llama.cpp's case-spelled-out form.
 */
const BPE_PRE_SPLITS: Readonly<Record<string, readonly string[]>> = {
  default: [GPT2_SPLIT],
  "gpt-2": [GPT2_SPLIT],
  // llama-vocab.cpp maps these names onto the same pre-tokenizer types as the entries above.
  olmo: [GPT2_SPLIT],
  smollm: ["\\p{N}", GPT2_SPLIT],
  starcoder: ["\\p{N}", GPT2_SPLIT],
  refact: ["\\p{N}", GPT2_SPLIT],
  qwen2: [QWEN2_SPLIT],
  "deepseek-r1-qwen": [QWEN2_SPLIT],
  "llama-bpe": [LLAMA3_SPLIT],
  falcon3: [LLAMA3_SPLIT],
  dbrx: [LLAMA3_SPLIT],
};

const END_OF_GENERATION_TEXTS = new Set([
  "<|eot_id|>",
  "<|im_end|>",
  "<|end|>",
  "<end_of_turn>",
  "<|endoftext|>",
  "<|eom_id|>",
  "<EOT>",
  "<|end_of_text|>",
  "<end_of_utterance>",
]);

export interface TokenizerFiles {
  /** tokenizer.json (the @huggingface/tokenizers format). */
  readonly tokenizer: Record<string, unknown>;
  /** tokenizer_config.json. */
  readonly tokenizerConfig: Record<string, unknown>;
  /** Token ids for config.json / generation_config.json. */
  readonly bosTokenId: number | null;
  /** Every token that ends generation (eos, eot and llama.cpp's end-of-generation texts). */
  readonly eosTokenIds: number[];
  readonly padTokenId: number | null;
}

/**
 * Builds tokenizer.json and tokenizer_config.json from the GGUF tokenizer metadata:
 * `gpt2` vocabularies become byte-level BPE with the stored merges and llama.cpp's pre-split
 * regexes; `llama` (SentencePiece) vocabularies become BPE with byte fallback, merges ranked by the
 * merged piece's score (what llama.cpp's SPM tokenizer greedily applies).
 */
export function buildTokenizerFiles(gguf: GgufFile): TokenizerFiles {
  const path = gguf.source.name;
  const model = gguf.get("tokenizer.ggml.model");
  const tokens = gguf.get("tokenizer.ggml.tokens");
  if (!Array.isArray(tokens) || typeof tokens[0] !== "string")
    throw new InvalidFileError(path, "tokenizer.ggml.tokens is missing: the GGUF has no tokenizer");
  const vocabTokens = tokens as readonly string[];
  const types = gguf.get("tokenizer.ggml.token_type");
  const typeOf = (id: number): number =>
    types && typeof types === "object" && "length" in types ? Number((types as ArrayLike<number>)[id] ?? 1) : 1;
  const id = (key: string): number | null => {
    const v = gguf.get(`tokenizer.ggml.${key}`);
    return typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : null;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = gguf.get(`tokenizer.ggml.${key}`);
    return typeof v === "boolean" ? v : fallback;
  };

  const addedTokens = vocabTokens.flatMap((content, tokenId) => {
    const type = typeOf(tokenId);
    if (type !== TokenType.control && type !== TokenType.userDefined && type !== TokenType.unknown) return [];
    return [
      {
        id: tokenId,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: type !== TokenType.userDefined,
      },
    ];
  });

  let tokenizerModel: Record<string, unknown>;
  let normalizer: unknown = null;
  let preTokenizer: unknown = null;
  let decoder: unknown;
  const bosTokenId = id("bos_token_id");
  const addBos = bool("add_bos_token", model === "llama");
  if (model === "gpt2") {
    const merges = gguf.get("tokenizer.ggml.merges");
    if (!Array.isArray(merges)) throw new InvalidFileError(path, "tokenizer.ggml.merges is missing for a gpt2 (BPE) tokenizer");
    const pre = String(gguf.get("tokenizer.ggml.pre") ?? "default");
    const splits = BPE_PRE_SPLITS[pre];
    if (!splits)
      throw new InvalidFileError(
        path,
        `tokenizer.ggml.pre "${pre}" is not supported yet (supported: ${Object.keys(BPE_PRE_SPLITS).join(", ")})`,
      );
    tokenizerModel = {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocabTokens.map((t, i) => [t, i])),
      merges: merges as readonly string[],
    };
    preTokenizer = {
      type: "Sequence",
      pretokenizers: [
        ...splits.map((regex) => ({ type: "Split", pattern: { Regex: regex }, behavior: "Isolated", invert: false })),
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    };
    decoder = { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true };
  } else if (model === "llama") {
    const scores = gguf.get("tokenizer.ggml.scores");
    if (!(scores instanceof Float32Array))
      throw new InvalidFileError(path, "tokenizer.ggml.scores is missing for a SentencePiece tokenizer");
    const unk = id("unknown_token_id");
    tokenizerModel = {
      type: "BPE",
      dropout: null,
      unk_token: unk === null ? null : vocabTokens[unk],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocabTokens.map((t, i) => [t, i])),
      merges: sentencePieceMerges(vocabTokens, scores, typeOf),
    };
    const addSpacePrefix = bool("add_space_prefix", true);
    normalizer = {
      type: "Sequence",
      normalizers: [
        ...(addSpacePrefix ? [{ type: "Prepend", prepend: "▁" }] : []),
        { type: "Replace", pattern: { String: " " }, content: "▁" },
      ],
    };
    decoder = {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        ...(addSpacePrefix ? [{ type: "Strip", content: " ", start: 1, stop: 0 }] : []),
      ],
    };
  } else {
    throw new InvalidFileError(
      path,
      `tokenizer.ggml.model "${String(model)}" is not supported by the ONNX exporter (supported: gpt2, llama)`,
    );
  }

  const eos = id("eos_token_id");
  const eot = id("eot_token_id");
  // llama.cpp also ends generation on these tokens by their text (llama-vocab.cpp, special_eog_ids).
  const endOfGeneration = vocabTokens.flatMap((t, i) => (END_OF_GENERATION_TEXTS.has(t) ? [i] : []));
  const eosTokenIds = [...new Set([eos, eot, ...endOfGeneration].filter((x): x is number => x !== null))];
  const padTokenId = id("padding_token_id");
  const tokenOf = (tokenId: number | null) => (tokenId === null ? null : (vocabTokens[tokenId] ?? null));
  const chatTemplate = gguf.get("tokenizer.chat_template");

  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer,
    pre_tokenizer: preTokenizer,
    post_processor:
      addBos && bosTokenId !== null
        ? {
            type: "TemplateProcessing",
            single: [{ SpecialToken: { id: vocabTokens[bosTokenId], type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
            pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
            special_tokens: {
              [vocabTokens[bosTokenId]!]: { id: vocabTokens[bosTokenId], ids: [bosTokenId], tokens: [vocabTokens[bosTokenId]] },
            },
          }
        : null,
    decoder,
    model: tokenizerModel,
  };
  const tokenizerConfig = {
    tokenizer_class: "PreTrainedTokenizerFast",
    add_bos_token: addBos,
    add_eos_token: bool("add_eos_token", false),
    bos_token: tokenOf(bosTokenId),
    eos_token: tokenOf(eos),
    pad_token: tokenOf(padTokenId),
    unk_token: tokenOf(id("unknown_token_id")),
    clean_up_tokenization_spaces: false,
    model_max_length: 1_000_000,
    // Left padding: batched prompts end at the same index, so the next token is always the last.
    padding_side: "left",
    ...(typeof chatTemplate === "string" ? { chat_template: chatTemplate } : {}),
  };
  return { tokenizer, tokenizerConfig, bosTokenId, eosTokenIds, padTokenId };
}

/**
 * Merges for a SentencePiece-BPE vocabulary: every split of a normal piece into two pieces of the
 * vocabulary, ranked by the merged piece's score (highest first), as llama.cpp's SPM tokenizer
 * merges the best-scoring pair first.
 */
function sentencePieceMerges(tokens: readonly string[], scores: Float32Array, typeOf: (id: number) => number): [string, string][] {
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => {
    const type = typeOf(i);
    if (type === TokenType.normal || type === TokenType.userDefined) ids.set(t, i);
  });
  const merges: { left: string; right: string; score: number; id: number }[] = [];
  for (const [piece, pieceId] of ids) {
    const chars = Array.from(piece);
    let prefix = "";
    for (let i = 1; i < chars.length; i++) {
      prefix += chars[i - 1];
      const suffix = piece.slice(prefix.length);
      if (ids.has(prefix) && ids.has(suffix)) merges.push({ left: prefix, right: suffix, score: scores[pieceId]!, id: pieceId });
    }
  }
  merges.sort((a, b) => b.score - a.score || a.id - b.id);
  return merges.map((m) => [m.left, m.right]);
}
