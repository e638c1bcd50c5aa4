import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { AbortedError, GgmlType, ggmlTypeName, halfToFloat, InvalidFileError, openGguf, type GgufFile } from "@emosteer/core";
import { fileByteSource, fileFingerprint } from "@emosteer/core/node";
import type { ArchitectureFacts } from "./architecture.js";
import { readDecoderConfig, type DecoderConfig } from "./decoder-config.js";
import {
  buildDecoderGraph,
  GRAPH_IO,
  GRAPH_OPS,
  type GraphOps,
  OPSET,
  PRECISIONS,
  type Precision,
  type WeightSource,
} from "./decoder-graph.js";
import { GraphBuilder } from "./graph-builder.js";
import { NUMERICS, NUMERICS_MODES, type Numerics, type NumericsFacts } from "./numerics.js";
import { withFolderLock } from "./folder-lock.js";
import { buildTokenizerFiles } from "./tokenizer-files.js";

/** Bumped whenever the graph or folder layout changes, so stale cached exports are rebuilt. */
// 5: `steering` is [batch, layers, hidden] (per-sequence rows). 6: contrib ops (fused norms, RoPE, attention, Q·K·V and
// gate·up matmuls). 7: attention back in plain ops (GroupQueryAttention refused batched prompt chunks after a KV cache).
export const EXPORT_FORMAT_VERSION = 7;

export interface ExportProgress {
  readonly stage: "fingerprint" | "tokenizer" | "layers" | "writing" | "done";
  /** Work done in this stage, out of `total`. */
  readonly done: number;
  readonly total: number;
  /** Set while another process holds the folder's lock (its pid). */
  readonly waitingFor?: number;
}

export interface ExportOptions {
  /** The GGUF model file to export. */
  readonly ggufPath: string;
  /** Defaults to `"fp32"`. */
  readonly precision?: Precision;
  /**
   * Defaults to `"exact"`. `"llama.cpp"` (fp32 only) rounds where llama.cpp's CPU backend rounds, so
   * the graph reproduces llama.cpp's logits on the same GGUF; see {@link NUMERICS}.
   */
  readonly numerics?: Numerics;
  /**
   * Defaults to `"contrib"`: onnxruntime's fused kernels (see {@link GraphOps}). `"standard"`: plain
   * ONNX ops only, the same network for a runtime without those kernels (its own cache folder).
   */
  readonly ops?: GraphOps;
  /**
   * For measurements only, with `outDir`: a table row of one's own in place of
   * `NUMERICS[numerics]` (e.g. one rounding at a time). Recorded as numerics `"custom"`.
   */
  readonly numericsFacts?: NumericsFacts;
  /**
   * For tests only, with `outDir`: architecture facts of one's own in place of the table's row for
   * the file's architecture (e.g. with one distinctive feature removed, to show that parity with
   * llama.cpp then fails). Such a folder is never reused from a previous export.
   */
  readonly architectureFacts?: ArchitectureFacts;
  /**
   * Where the folder goes. Defaults to `<cache>/onnx/<fingerprint>-<precision>[-llamacpp]/`, with
   * `<cache>` = `$EMOSTEER_CACHE_DIR`, else `$XDG_CACHE_HOME/emosteer`, else `~/.cache/emosteer`.
   */
  readonly outDir?: string;
  /**
   * Give the graph its `steering` input. Defaults to true. False (only with `outDir`) builds the
   * plain decoder, to check that zero steering leaves the network unchanged.
   */
  readonly steerable?: boolean;
  /** Re-export even when a complete folder is already there. Defaults to false. */
  readonly force?: boolean;
  readonly onProgress?: (progress: ExportProgress) => void;
  readonly signal?: AbortSignal;
}

export interface ExportResult {
  readonly modelDir: string;
  readonly fingerprint: string;
  readonly precision: Precision;
  readonly numerics: Numerics | "custom";
  readonly ops: GraphOps;
  /** True when an existing export was reused. */
  readonly cached: boolean;
  /** Size of onnx/model.onnx + onnx/model.onnx_data. */
  readonly bytes: number;
}

/** What config.json carries under `emosteer`, so the runner can check what it loads. */
export interface EmosteerExportInfo {
  readonly formatVersion: number;
  readonly fingerprint: string;
  readonly architecture: string;
  readonly name: string;
  readonly precision: Precision;
  /** Absent in folders written before numerics existed: those are `"exact"`. */
  readonly numerics?: Numerics | "custom";
  /** Absent in folders written before format 6: those are `"standard"`. */
  readonly ops?: GraphOps;
  readonly layerCount: number;
  readonly hiddenSize: number;
  readonly contextLength: number;
  readonly eosTokenIds: readonly number[];
  readonly bosTokenId: number | null;
  /** Name of the steering input; null for a plain (unsteerable) export. */
  readonly steeringInput: string | null;
  readonly sourceFile: string;
}

/** `${EMOSTEER_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/emosteer}`. */
export function defaultCacheDir(): string {
  if (process.env.EMOSTEER_CACHE_DIR) return resolve(process.env.EMOSTEER_CACHE_DIR);
  return join(process.env.XDG_CACHE_HOME ? resolve(process.env.XDG_CACHE_HOME) : join(homedir(), ".cache"), "emosteer");
}

/**
 * Folder name suffix per numerics mode. "exact" keeps the name it had before numerics existed, so
 * folders already in the cache stay valid; every other mode gets a folder of its own.
 */
const NUMERICS_FOLDER_SUFFIX: Readonly<Record<Numerics, string>> = { exact: "", "llama.cpp": "-llamacpp" };

/** Folder name suffix per operator set: the default ("contrib") keeps the plain name. */
const OPS_FOLDER_SUFFIX: Readonly<Record<GraphOps, string>> = { contrib: "", standard: "-standard" };

/** The cache folder of one export. */
export function exportDir(
  fingerprint: string,
  precision: Precision,
  cacheDir = defaultCacheDir(),
  numerics: Numerics = "exact",
  ops: GraphOps = "contrib",
): string {
  return join(cacheDir, "onnx", `${fingerprint}-${precision}${NUMERICS_FOLDER_SUFFIX[numerics]}${OPS_FOLDER_SUFFIX[ops]}`);
}

/**
 * Exports a GGUF decoder to a steerable ONNX model folder (transformers.js layout: config.json,
 * generation_config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx +
 * onnx/model.onnx_data). The folder is built in a temporary sibling and renamed into place, so a
 * folder that exists is complete. Reuses a complete folder of the same format unless `force`.
 * From the reuse check to the rename it holds `<folder>.lock` ({@link withFolderLock}), so two
 * processes exporting the same folder never remove or replace it under each other: the second
 * waits and reuses what the first wrote. (Engines reading a folder do not take the lock: a forced
 * re-export still replaces a folder another process has open.)
 */
export async function exportGgufToOnnx(options: ExportOptions): Promise<ExportResult> {
  const precision = options.precision ?? "fp32";
  if (!PRECISIONS.includes(precision)) throw new RangeError(`precision "${String(precision)}" is not one of ${PRECISIONS.join(", ")}`);
  if (options.steerable === false && !options.outDir)
    throw new TypeError("steerable: false exports need an explicit outDir (the cache holds steerable exports only).");
  const mode = options.numerics ?? "exact";
  if (!NUMERICS_MODES.includes(mode)) throw new RangeError(`numerics "${String(mode)}" is not one of ${NUMERICS_MODES.join(", ")}`);
  if (options.numericsFacts && !options.outDir)
    throw new TypeError("numericsFacts exports need an explicit outDir (the cache holds the named numerics modes only).");
  if (options.architectureFacts && !options.outDir)
    throw new TypeError("architectureFacts exports need an explicit outDir (the cache holds exports of the table's facts only).");
  const numerics: Numerics | "custom" = options.numericsFacts ? "custom" : mode;
  const ops = options.ops ?? "contrib";
  if (!GRAPH_OPS.includes(ops)) throw new RangeError(`ops "${String(ops)}" is not one of ${GRAPH_OPS.join(", ")}`);
  if (precision !== "fp32" && numerics !== "exact")
    throw new RangeError(`numerics "${numerics}" applies to the fp32 precision only, not "${precision}".`);
  const progress = options.onProgress ?? (() => {});
  const checkAbort = () => {
    if (options.signal?.aborted) throw new AbortedError(`ONNX export of ${options.ggufPath}`);
  };
  const fingerprint = await fileFingerprint(options.ggufPath, {
    onProgress: ({ bytes, totalBytes }) => progress({ stage: "fingerprint", done: bytes, total: totalBytes }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const modelDir = resolve(options.outDir ?? exportDir(fingerprint, precision, defaultCacheDir(), mode, ops));
  // Held from the reuse check to the rename: another process exporting the same folder waits, then reuses it instead of removing it.
  return withFolderLock(
    modelDir,
    () => exportLocked(options, { modelDir, fingerprint, precision, numerics, mode, ops, progress, checkAbort }),
    {
      ...(options.signal ? { signal: options.signal } : {}),
      onWait: (owner) => progress({ stage: "fingerprint", done: 1, total: 1, waitingFor: owner.pid }),
    },
  );
}

async function exportLocked(
  options: ExportOptions,
  {
    modelDir,
    fingerprint,
    precision,
    numerics,
    mode,
    ops,
    progress,
    checkAbort,
  }: {
    modelDir: string;
    fingerprint: string;
    precision: Precision;
    numerics: Numerics | "custom";
    mode: Numerics;
    ops: GraphOps;
    progress: (p: ExportProgress) => void;
    checkAbort: () => void;
  },
): Promise<ExportResult> {
  if (!options.force && numerics !== "custom" && !options.architectureFacts) {
    const existing = await readExportInfo(modelDir);
    if (
      existing &&
      existing.steeringInput === (options.steerable === false ? null : GRAPH_IO.steering) &&
      existing.fingerprint === fingerprint &&
      existing.precision === precision &&
      (existing.numerics ?? "exact") === numerics &&
      (existing.ops ?? "standard") === ops &&
      existing.formatVersion === EXPORT_FORMAT_VERSION
    ) {
      return { modelDir, fingerprint, precision, numerics, ops, cached: true, bytes: await onnxBytes(modelDir) };
    }
  }

  const temp = `${modelDir}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await mkdir(join(temp, "onnx"), { recursive: true });
  const source = await fileByteSource(options.ggufPath);
  let builder: GraphBuilder | undefined;
  try {
    const gguf = await openGguf(source, options.signal ? { signal: options.signal } : {});
    const config = readDecoderConfig(gguf, options.architectureFacts);
    progress({ stage: "tokenizer", done: 0, total: 1 });
    const tokenizer = buildTokenizerFiles(gguf);
    progress({ stage: "tokenizer", done: 1, total: 1 });
    checkAbort();

    builder = new GraphBuilder(join(temp, "onnx", "model.onnx_data"), "model.onnx_data");
    await buildDecoderGraph(builder, config, weightSource(gguf), {
      precision,
      numerics: options.numericsFacts ?? NUMERICS[mode],
      ops,
      steerable: options.steerable ?? true,
      onLayer: (done, total) => progress({ stage: "layers", done, total }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    checkAbort();
    progress({ stage: "writing", done: 0, total: 1 });
    await writeFile(join(temp, "onnx", "model.onnx"), builder.encode(`emosteer-${config.architecture}`, OPSET));

    const info: EmosteerExportInfo = {
      formatVersion: EXPORT_FORMAT_VERSION,
      fingerprint,
      architecture: config.architecture,
      name: config.name,
      precision,
      numerics,
      ops,
      layerCount: config.layerCount,
      hiddenSize: config.hiddenSize,
      contextLength: config.contextLength,
      eosTokenIds: tokenizer.eosTokenIds,
      bosTokenId: tokenizer.bosTokenId,
      steeringInput: options.steerable === false ? null : GRAPH_IO.steering,
      sourceFile: resolve(options.ggufPath),
    };
    const json = (value: unknown) => JSON.stringify(value, null, 2);
    await writeFile(join(temp, "config.json"), json(hfConfig(config, tokenizer, info)));
    await writeFile(
      join(temp, "generation_config.json"),
      json({
        bos_token_id: tokenizer.bosTokenId,
        eos_token_id: tokenizer.eosTokenIds,
        pad_token_id: tokenizer.padTokenId,
        do_sample: false,
      }),
    );
    await writeFile(join(temp, "tokenizer.json"), JSON.stringify(tokenizer.tokenizer));
    await writeFile(join(temp, "tokenizer_config.json"), json(tokenizer.tokenizerConfig));
    checkAbort();

    await rm(modelDir, { recursive: true, force: true });
    await mkdir(resolve(modelDir, ".."), { recursive: true });
    await rename(temp, modelDir);
    progress({ stage: "done", done: 1, total: 1 });
    return { modelDir, fingerprint, precision, numerics, ops, cached: false, bytes: await onnxBytes(modelDir) };
  } catch (error) {
    builder?.abandon();
    await rm(temp, { recursive: true, force: true });
    if (options.signal?.aborted) throw new AbortedError(`ONNX export of ${options.ggufPath}`);
    throw error;
  } finally {
    await source.dispose();
  }
}

/** The `emosteer` block of an exported folder's config.json, or null when there is none. */
export async function readExportInfo(modelDir: string): Promise<EmosteerExportInfo | null> {
  try {
    const config = JSON.parse(await readFile(join(modelDir, "config.json"), "utf8")) as { emosteer?: EmosteerExportInfo };
    await stat(join(modelDir, "onnx", "model.onnx"));
    return config.emosteer ?? null;
  } catch {
    return null;
  }
}

async function onnxBytes(modelDir: string): Promise<number> {
  let total = 0;
  for (const f of ["model.onnx", "model.onnx_data"]) total += (await stat(join(modelDir, "onnx", f)).catch(() => ({ size: 0 }))).size;
  return total;
}

/** Bytes per block of the types whose blocks start with fp16 d, fp16 m (ggml-common.h). */
const BLOCK_BYTES_WITH_MINIMUM: ReadonlyMap<GgmlType, number> = new Map<GgmlType, number>([
  [GgmlType.Q4_1, 20],
  [GgmlType.Q5_1, 24],
]);

function weightSource(gguf: GgufFile): WeightSource {
  const info = (name: string) => {
    const tensor = gguf.tensor(name);
    if (!tensor) throw new InvalidFileError(gguf.source.name, `tensor ${name} is missing`);
    return tensor;
  };
  return {
    has: (name) => gguf.tensor(name) !== undefined,
    read: (name) => gguf.readTensor(name),
    type: (name) => info(name).type,
    readBlockMinima: async (name) => {
      const tensor = info(name);
      const blockBytes = BLOCK_BYTES_WITH_MINIMUM.get(tensor.type);
      if (blockBytes === undefined)
        throw new RangeError(`${name} is ${ggmlTypeName(tensor.type)}, which has no block minima (only Q4_1, Q5_1)`);
      const bytes = await gguf.readTensorBytes(tensor);
      const minima = new Float32Array(tensor.elementCount / 32);
      for (let b = 0; b < minima.length; b++) minima[b] = halfToFloat(bytes[b * blockBytes + 2]! | (bytes[b * blockBytes + 3]! << 8));
      return minima;
    },
  };
}

function hfConfig(
  config: DecoderConfig,
  tokenizer: ReturnType<typeof buildTokenizerFiles>,
  info: EmosteerExportInfo,
): Record<string, unknown> {
  const globalBase = config.ropeBase;
  const local = config.slidingWindowByLayer.find((w) => w > 0);
  return {
    architectures: [config.facts.hfClass],
    model_type: config.facts.modelType,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.layerCount,
    num_attention_heads: config.headCount,
    num_key_value_heads: config.kvHeadCount,
    head_dim: config.headDim,
    vocab_size: config.vocabSize,
    max_position_embeddings: config.contextLength,
    rms_norm_eps: config.rmsEps,
    rope_theta: globalBase,
    ...(local ? { sliding_window: local, rope_local_base_freq: config.ropeBaseByLayer[config.slidingWindowByLayer.indexOf(local)] } : {}),
    ...(config.finalLogitSoftcap ? { final_logit_softcapping: config.finalLogitSoftcap } : {}),
    tie_word_embeddings: config.tiedEmbeddings,
    bos_token_id: tokenizer.bosTokenId,
    eos_token_id: tokenizer.eosTokenIds.length === 1 ? tokenizer.eosTokenIds[0] : tokenizer.eosTokenIds,
    pad_token_id: tokenizer.padTokenId,
    torch_dtype: "float32",
    use_cache: true,
    "transformers.js_config": { dtype: "fp32", use_external_data_format: true },
    emosteer: info,
  };
}
