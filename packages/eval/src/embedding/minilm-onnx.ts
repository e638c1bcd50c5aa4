/**
 * all-MiniLM-L6-v2 on onnxruntime-node: the BERT graph is written by the project's own protobuf
 * graph writer (`GraphBuilder` of @emosteer/onnx-export) from the wheel's safetensors, cached next
 * to the unpacked model, and run in length-sorted batches. The plain-TypeScript {@link BertEncoder}
 * stays the reference it is checked against (test/embedding-onnx.test.ts).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AbortedError, EmosteerError, InvalidFileError } from "@emosteer/core";
import { GraphBuilder, MS_DOMAIN } from "@emosteer/onnx-export";
import type { BertConfig } from "./bert.js";
import { readSafetensors } from "./safetensors.js";
import { openCallerSession, openSessionPool, type RunFeeds, type SessionRunner } from "./session-pool.js";
import { ensureEmbeddingModel, type EnsureEmbeddingModelOptions } from "./sentence-embedder.js";
import { WordPieceTokenizer } from "./wordpiece.js";

/** Bump when the graph changes, so a cached graph of another layout is rebuilt. */
const GRAPH_VERSION = 1;
/** The int8 graph's own version (its key also names the precision, so the fp32 key stays the first one). */
const INT8_GRAPH_VERSION = 2;
/** The int8-row graph's version. */
const INT8_ROW_GRAPH_VERSION = 1;
const OPSET = 17;
/** Additive attention bias of padded keys (finite: no NaN, exp underflows to exactly 0). */
const MASKED = -1e9;

/**
 * `"fp32"`: the safetensors weights as they are, plain ONNX ops. `"int8"`: every linear layer's
 * weights in int8 (one scale per output column) with activations quantized per run
 * (DynamicQuantizeMatMul), onnxruntime's fused MultiHeadAttention and Gelu;
 * about 3× the fp32 graph's texts per CPU-second, cosine ≈ 0.994 to its embeddings
 * (benchmarks/judge.md). Its activation scale is one per run, so it runs one text per run. It also
 * outputs the last hidden states, for sentence pooling.
 * `"int8-row"`: the same int8 weights, but the activations are quantized with one scale per token
 * (row), by plain ONNX ops around MatMulInteger: a token's result never depends on the other tokens
 * of its run, so texts run in padded, length-sorted batches and each gets the embedding it gets alone.
 */
export type MiniLmPrecision = "fp32" | "int8" | "int8-row";

type Tensors = Map<string, { shape: number[]; data: Float32Array }>;

/**
 * `[out, in]` (PyTorch) weights → int8 codes laid out `[in, out]` with one symmetric scale per output
 * column (max |w| / 127), for DynamicQuantizeMatMul.
 */
export function quantizeColumnsInt8(w: Float32Array, out: number, inp: number): { codes: Int8Array; scales: Float32Array } {
  const codes = new Int8Array(w.length);
  const scales = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    let max = 0;
    for (let i = 0; i < inp; i++) max = Math.max(max, Math.abs(w[o * inp + i]!));
    const scale = Math.fround(max / 127);
    scales[o] = scale;
    const inv = scale === 0 ? 0 : 1 / scale;
    for (let i = 0; i < inp; i++) codes[i * out + o] = Math.max(-127, Math.min(127, Math.round(w[o * inp + i]! * inv)));
  }
  return { codes, scales };
}

/** `[out, in]` (PyTorch) → `[in, out]` (MatMul's right operand). */
function transpose(w: Float32Array, out: number, inp: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) t[i * out + o] = w[o * inp + i]!;
  return t;
}

/**
 * Writes the sentence-embedding graph: input_ids, attention_mask `[batch, seq]` (int64) →
 * sentence_embedding `[batch, hidden]`, mean-pooled over unmasked tokens and L2-normalised,
 * as sentence-transformers' pipeline for this model. Token type ids are all 0 (single sentences).
 */
export function buildMiniLmGraph(
  config: BertConfig,
  tensors: Tensors,
  weightsPath: string,
  dataPath: string,
  dataLocation: string,
  precision: MiniLmPrecision = "fp32",
): Uint8Array {
  const get = (name: string, shape?: number[]) => {
    const t = tensors.get(name) ?? tensors.get(`bert.${name}`);
    if (!t) throw new InvalidFileError(weightsPath, `missing tensor ${name}`);
    if (shape && t.shape.join("x") !== shape.join("x"))
      throw new InvalidFileError(weightsPath, `tensor ${name} has shape ${t.shape.join("x")}, expected ${shape.join("x")}`);
    return t;
  };
  const H = config.hidden_size;
  const heads = config.num_attention_heads;
  const d = H / heads;
  const I = config.intermediate_size;
  const eps = { float: config.layer_norm_eps };
  const g = new GraphBuilder(dataPath, dataLocation);
  try {
    const ids = g.input("input_ids", "int64", ["batch_size", "sequence_length"]);
    const mask = g.input("attention_mask", "int64", ["batch_size", "sequence_length"]);
    const words = get("embeddings.word_embeddings.weight");
    const wordTable = g.initializer("word_embeddings", "float32", words.shape, words.data);
    const positionTable = g.initializer(
      "position_embeddings",
      "float32",
      [config.max_position_embeddings, H],
      get("embeddings.position_embeddings.weight", [config.max_position_embeddings, H]).data,
    );
    const typeRow = g.initializer(
      "token_type_row0",
      "float32",
      [H],
      get("embeddings.token_type_embeddings.weight", [2, H]).data.slice(0, H),
    );
    const seqLen = g.op("Slice", [g.op("Shape", [ids]), g.constInt64([1]), g.constInt64([2])]);
    const positions = g.op("Slice", [positionTable, g.constInt64([0]), seqLen, g.constInt64([0])]);
    const norm = (x: string, name: string) =>
      g.op(
        "LayerNormalization",
        [
          x,
          g.initializer(`${name}.weight`, "float32", [H], get(`${name}.weight`, [H]).data),
          g.initializer(`${name}.bias`, "float32", [H], get(`${name}.bias`, [H]).data),
        ],
        { axis: -1, epsilon: eps },
      );
    const linear = (x: string, name: string, out: number, inp: number) => {
      const w = get(`${name}.weight`, [out, inp]).data;
      const y = g.op("MatMul", [x, g.initializer(`${name}.weight_t`, "float32", [inp, out], transpose(w, out, inp))]);
      return g.op("Add", [y, g.initializer(`${name}.bias`, "float32", [out], get(`${name}.bias`, [out]).data)]);
    };
    let x = norm(g.op("Add", [g.op("Add", [g.op("Gather", [wordTable, ids], { axis: 0 }), positions]), typeRow]), "embeddings.LayerNorm");

    const maskF = g.op("Cast", [mask], { to: 1 });
    // [B, T] → [B, 1, 1, T]: 0 for real tokens, MASKED for padding.
    const bias = g.op("Unsqueeze", [
      g.op("Mul", [g.op("Sub", [maskF, g.constFloat([1], [])]), g.constFloat([-MASKED], [])]),
      g.constInt64([1, 2]),
    ]);
    const splitHeads = g.constInt64([0, 0, heads, d]);
    const mergeHeads = g.constInt64([0, 0, H]);
    const scale = g.constFloat([1 / Math.sqrt(d)], []);
    if (precision === "int8" || precision === "int8-row") {
      // The int8 encoder: one DynamicQuantizeMatMul for Q, K and V together, onnxruntime's fused
      // MultiHeadAttention (key padding mask) and Gelu.
      const keyMask = g.op("Cast", [mask], { to: 6 });
      const zeroPoint = precision === "int8-row" ? g.initializer("activation_zero_point", "uint8", [], Uint8Array.of(128)) : "";
      const dense = (input: string, weight: Float32Array, out: number, inp: number, base: string, bias?: Float32Array) => {
        const q = quantizeColumnsInt8(weight, out, inp);
        if (precision === "int8-row") {
          // Symmetric per-token scale max|x|/127 (never 0), codes shifted by 128 into uint8 (zero point 128):
          // MatMulInteger's u8·s8 kernel; then int32 → float times the token's and the column's scale.
          const rowScale = g.op("Max", [
            g.op("Div", [g.op("ReduceMax", [g.op("Abs", [input])], { axes: [-1], keepdims: 1 }), g.constFloat([127], [])]),
            g.constFloat([1e-12], []),
          ]);
          const codes = g.op("Cast", [g.op("Add", [g.op("Round", [g.op("Div", [input, rowScale])]), g.constFloat([128], [])])], { to: 2 });
          const acc = g.op("MatMulInteger", [codes, g.initializer(`${base}.weight_q8`, "int8", [inp, out], q.codes), zeroPoint]);
          const y = g.op("Mul", [
            g.op("Mul", [g.op("Cast", [acc], { to: 1 }), g.initializer(`${base}.weight_scale`, "float32", [out], q.scales)]),
            rowScale,
          ]);
          return bias ? g.op("Add", [y, g.initializer(`${base}.bias`, "float32", [out], bias)]) : y;
        }
        return g.op(
          "DynamicQuantizeMatMul",
          [
            input,
            g.initializer(`${base}.weight_q8`, "int8", [inp, out], q.codes),
            g.initializer(`${base}.weight_scale`, "float32", [out], q.scales),
            "",
            bias ? g.initializer(`${base}.bias`, "float32", [out], bias) : "",
          ],
          {},
          { domain: MS_DOMAIN },
        );
      };
      for (let l = 0; l < config.num_hidden_layers; l++) {
        const p = `encoder.layer.${l}`;
        const parts = ["query", "key", "value"].map((n) => `${p}.attention.self.${n}`);
        const qkvWeight = new Float32Array(3 * H * H);
        const qkvBias = new Float32Array(3 * H);
        parts.forEach((n, j) => {
          qkvWeight.set(get(`${n}.weight`, [H, H]).data, j * H * H);
          qkvBias.set(get(`${n}.bias`, [H]).data, j * H);
        });
        const qkv = dense(x, qkvWeight, 3 * H, H, `${p}.attention.self.qkv`, qkvBias);
        const [q, k, v] = g.node("Split", [qkv, g.constInt64([H, H, H])], { axis: -1 }, { outputCount: 3 });
        const context = g.op("MultiHeadAttention", [q!, k!, v!, "", keyMask], { num_heads: heads }, { domain: MS_DOMAIN });
        const attentionOut = dense(
          context,
          get(`${p}.attention.output.dense.weight`, [H, H]).data,
          H,
          H,
          `${p}.attention.output.dense`,
          get(`${p}.attention.output.dense.bias`, [H]).data,
        );
        // Add + LayerNormalization rather than the fused SkipLayerNormalization: on 2 threads, one text
        // a run, the fused op cost more than the whole attention (texts per CPU-second 180 → 240).
        const attention = norm(g.op("Add", [attentionOut, x]), `${p}.attention.output.LayerNorm`);
        const inner = dense(
          attention,
          get(`${p}.intermediate.dense.weight`, [I, H]).data,
          I,
          H,
          `${p}.intermediate.dense`,
          get(`${p}.intermediate.dense.bias`, [I]).data,
        );
        const gelu = g.op("Gelu", [inner], {}, { domain: MS_DOMAIN });
        const out = dense(
          gelu,
          get(`${p}.output.dense.weight`, [H, I]).data,
          H,
          I,
          `${p}.output.dense`,
          get(`${p}.output.dense.bias`, [H]).data,
        );
        x = norm(g.op("Add", [out, attention]), `${p}.output.LayerNorm`);
      }
    } else
      for (let l = 0; l < config.num_hidden_layers; l++) {
        const p = `encoder.layer.${l}`;
        const q = g.op("Transpose", [g.op("Reshape", [linear(x, `${p}.attention.self.query`, H, H), splitHeads])], { perm: [0, 2, 1, 3] });
        const k = g.op("Transpose", [g.op("Reshape", [linear(x, `${p}.attention.self.key`, H, H), splitHeads])], { perm: [0, 2, 3, 1] });
        const v = g.op("Transpose", [g.op("Reshape", [linear(x, `${p}.attention.self.value`, H, H), splitHeads])], { perm: [0, 2, 1, 3] });
        const scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), bias]);
        const context = g.op("Reshape", [
          g.op("Transpose", [g.op("MatMul", [g.op("Softmax", [scores], { axis: -1 }), v])], { perm: [0, 2, 1, 3] }),
          mergeHeads,
        ]);
        const attention = norm(g.op("Add", [linear(context, `${p}.attention.output.dense`, H, H), x]), `${p}.attention.output.LayerNorm`);
        const inner = linear(attention, `${p}.intermediate.dense`, I, H);
        // Exact GELU, as the model was trained: 0.5·x·(1 + erf(x/√2)).
        const gelu = g.op("Mul", [
          g.op("Mul", [inner, g.op("Add", [g.op("Erf", [g.op("Mul", [inner, g.constFloat([Math.SQRT1_2], [])])]), g.constFloat([1], [])])]),
          g.constFloat([0.5], []),
        ]);
        x = norm(g.op("Add", [linear(gelu, `${p}.output.dense`, H, I), attention]), `${p}.output.LayerNorm`);
      }
    const m3 = g.op("Unsqueeze", [maskF, g.constInt64([2])]);
    const summed = g.op("ReduceSum", [g.op("Mul", [x, m3]), g.constInt64([1])], { keepdims: 0 });
    g.op("LpNormalization", [summed], { axis: -1, p: 2 }, { output: "sentence_embedding" });
    g.output("sentence_embedding", "float32", ["batch_size", H]);
    if (precision !== "fp32") {
      // The last hidden states too, so that spans of them (sentences) can be pooled from the same forward pass.
      g.op("Identity", [x], {}, { output: "token_embeddings" });
      g.output("token_embeddings", "float32", ["batch_size", "sequence_length", H]);
    }
    return g.encode("all-MiniLM-L6-v2", OPSET);
  } catch (error) {
    g.abandon();
    throw error;
  }
}

/** Folder of the cached graph for the model in `modelDir` (keyed by the weights' sha256 and the graph version). */
function graphDir(modelDir: string, weights: Buffer, precision: MiniLmPrecision): string {
  // The fp32 key is the one of the first graph (no precision in it), so its cached embeddings stay valid.
  const tag = precision === "fp32" ? "" : ` ${precision} ${precision === "int8" ? INT8_GRAPH_VERSION : INT8_ROW_GRAPH_VERSION}`;
  const key = createHash("sha256").update(`minilm-graph ${GRAPH_VERSION}${tag}\n`).update(weights).digest("hex").slice(0, 16);
  return join(modelDir, `onnx-${key}`);
}

/**
 * The cached `model.onnx` (+ `model.onnx.data`) for the model folder: built once into a temporary
 * folder and renamed into place, so a crash never leaves a half-written graph behind.
 */
export function ensureMiniLmGraph(
  modelDir: string,
  onProgress: (message: string) => void = () => {},
  precision: MiniLmPrecision = "fp32",
): string {
  const weightsPath = join(modelDir, "model.safetensors");
  if (!existsSync(weightsPath))
    throw new InvalidFileError(weightsPath, "missing embedding-model file: delete the folder to fetch it again");
  const weights = readFileSync(weightsPath);
  const dir = graphDir(modelDir, weights, precision);
  const modelPath = join(dir, "model.onnx");
  if (existsSync(modelPath)) return modelPath;
  onProgress(`building the all-MiniLM-L6-v2 ONNX graph (${precision}) into ${dir}`);
  const config = JSON.parse(readFileSync(join(modelDir, "config.json"), "utf8")) as BertConfig;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const bytes = buildMiniLmGraph(
      config,
      readSafetensors(weights, weightsPath),
      weightsPath,
      join(tmp, "model.onnx.data"),
      "model.onnx.data",
      precision,
    );
    writeFileSync(join(tmp, "model.onnx"), bytes);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  return modelPath;
}

/**
 * Where the encoder's session runs. `"workers"`: `threads` worker threads, each with its own session
 * of one intra-op thread; runs go to them in chunks, so on 2 cores two texts are encoded at once and
 * the calling thread stays free. `"caller"`: one session with `threads` intra-op threads on the
 * calling thread, each run blocking it (the first v2 path; kept for comparison). The workers give the
 * embeddings of `"caller"` with `threads: 1` bit for bit; `"caller"` with 2 intra-op threads agrees up to
 * rounding (within 1e-6 on the int8 graph, test/session-pool.test.ts).
 */
export type EncoderThread = "workers" | "caller";

export interface OnnxSentenceEmbedderOptions extends EnsureEmbeddingModelOptions {
  readonly modelDir?: string;
  /** Threads the encoder uses (worker threads, or intra-op threads with `thread: "caller"`). Defaults to 2. */
  readonly threads?: number;
  /** Defaults to `"workers"`, or `"caller"` with `threads: 1` (one thread needs no pool). */
  readonly thread?: EncoderThread;
  /** Texts per session run (after sorting by length). Defaults to 32. */
  readonly batchSize?: number;
  /** Weights of the linear layers. Defaults to "fp32". */
  readonly precision?: MiniLmPrecision;
  /**
   * int8 only: each embedding is followed by a second block, the element-wise maximum over the
   * text's sentences of their unit-length mean hidden states (same forward pass), renormalised, so
   * an emotion carried by one sentence of a long answer is not averaged away. `dimensions` doubles.
   */
  readonly sentences?: boolean;
}

/** Sentence boundaries: after . ! ? … followed by white space, and at line breaks. */
const SENTENCE_BREAK = /(?<=[.!?…])\s+|\n+/u;

/** Unit-length copy of `v` (zeros stay zeros). */
function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}

/**
 * all-MiniLM-L6-v2 sentence embeddings on onnxruntime: same tokenizer and outputs as
 * {@link import("./sentence-embedder.js").SentenceEmbedder}, many times faster. Texts are sorted
 * by token count and run in batches, so padding stays small; results come back in input order.
 * The int8 graph runs one text per run: its activation scale is per run, so batching would make a
 * text's embedding depend on its batch-mates (and one text per run is also the fastest on 2 cores).
 * By default the runs go to `threads` worker threads (session-pool.ts), two texts at once on 2 cores.
 * The int8-row graph batches (default 8): its scales are per token, so a text's embedding is the same
 * alone and in any padded batch (to float rounding). On this machine it measured about 30 % fewer
 * texts per CPU-second than the int8 graph one text per run, batches of 8 included (its quantization
 * is ~12 plain elementwise ops per linear layer, where DynamicQuantizeMatMul fuses them), with
 * embeddings closer to fp32 (mean cosine 0.998 against 0.994).
 */
export class OnnxSentenceEmbedder {
  /** Width of each returned vector: the model's hidden size, twice that with `sentences`. */
  readonly dimensions: number;
  /** Runs at once: the worker threads of the pool, 1 on the calling thread. */
  readonly threads: number;
  #runner: SessionRunner | null;

  /** @internal use {@link loadOnnxSentenceEmbedder}. */
  constructor(
    runner: SessionRunner,
    private readonly tokenizer: WordPieceTokenizer,
    readonly maxTokens: number,
    dimensions: number,
    readonly batchSize: number,
    /** sha256 prefix of the graph's weights and version (and `-s` with sentences): embeddings are equal only under equal ids. */
    readonly modelId: string,
    readonly sentences = false,
  ) {
    this.#runner = runner;
    this.threads = runner.parallelism;
    this.hiddenSize = dimensions;
    this.dimensions = sentences ? 2 * dimensions : dimensions;
  }

  /** The model's hidden size (384). */
  readonly hiddenSize: number;

  tokenize(text: string): number[] {
    return this.tokenizer.encode(text, this.maxTokens);
  }

  /** Token ids and, per sentence, the index of its first token (after [CLS]); tokens equal {@link tokenize}'s. */
  tokenizeSentences(text: string): { ids: number[]; starts: number[] } {
    const ids = [this.tokenizer.clsId];
    const starts: number[] = [];
    for (const sentence of text.split(SENTENCE_BREAK)) {
      const piece = this.tokenizer.encode(sentence, Number.MAX_SAFE_INTEGER);
      if (piece.length <= 2 || ids.length >= this.maxTokens - 1) continue;
      starts.push(ids.length);
      for (let i = 1; i < piece.length - 1 && ids.length < this.maxTokens - 1; i++) ids.push(piece[i]!);
    }
    ids.push(this.tokenizer.sepId);
    return { ids, starts };
  }

  /** Unit-length embeddings in input order; checks `signal` and reports progress between batches. */
  async embedMany(
    texts: readonly string[],
    options: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
  ): Promise<Float32Array[]> {
    const runner = this.#runner;
    if (!runner) throw new EmosteerError("OnnxSentenceEmbedder was used after dispose(); load a new one.");
    const spans: number[][] = [];
    const tokens = texts.map((t) => {
      if (typeof t !== "string") throw new TypeError(`Embedding input must be a string, got ${typeof t}`);
      if (!this.sentences) return this.tokenize(t);
      const { ids, starts } = this.tokenizeSentences(t);
      spans.push(starts);
      return ids;
    });
    const order = tokens.map((_, i) => i).sort((a, b) => tokens[a]!.length - tokens[b]!.length || a - b);
    const out = new Array<Float32Array>(texts.length);
    const H = this.hiddenSize;
    const batches: number[][] = [];
    for (let start = 0; start < order.length; start += this.batchSize) batches.push(order.slice(start, start + this.batchSize));
    const runs: RunFeeds[] = batches.map((batch) => {
      const T = tokens[batch.at(-1)!]!.length;
      const ids = new BigInt64Array(batch.length * T);
      const mask = new BigInt64Array(batch.length * T);
      batch.forEach((idx, b) => {
        const seq = tokens[idx]!;
        for (let t = 0; t < seq.length; t++) {
          ids[b * T + t] = BigInt(seq[t]!);
          mask[b * T + t] = 1n;
        }
      });
      return {
        input_ids: { type: "int64", data: ids, dims: [batch.length, T] },
        attention_mask: { type: "int64", data: mask, dims: [batch.length, T] },
      };
    });
    if (options.signal?.aborted) throw new AbortedError("Embedding");
    const results = await runner.runAll(runs, this.sentences ? ["sentence_embedding", "token_embeddings"] : ["sentence_embedding"], {
      signal: options.signal,
      onDone: (done) => options.onProgress?.(Math.min(done * this.batchSize, order.length), order.length),
    });
    batches.forEach((batch, k) => {
      const result = results[k]!;
      const T = tokens[batch.at(-1)!]!.length;
      const data = result.sentence_embedding!.data;
      const hidden = this.sentences ? result.token_embeddings!.data : null;
      batch.forEach((idx, b) => {
        if (!hidden) {
          out[idx] = data.slice(b * H, (b + 1) * H);
          return;
        }
        const v = new Float32Array(2 * H);
        v.set(data.subarray(b * H, (b + 1) * H));
        const starts = spans[idx]!;
        const end = tokens[idx]!.length - 1; // [SEP]
        if (starts.length === 0) v.set(data.subarray(b * H, (b + 1) * H), H);
        else v.fill(-Infinity, H);
        starts.forEach((from, s) => {
          const to = s + 1 < starts.length ? starts[s + 1]! : end;
          const mean = new Float32Array(H);
          for (let t = from; t < to; t++) for (let i = 0; i < H; i++) mean[i]! += hidden[(b * T + t) * H + i]!;
          unit(mean);
          for (let i = 0; i < H; i++) if (mean[i]! > v[H + i]!) v[H + i] = mean[i]!;
        });
        unit(v.subarray(H));
        out[idx] = v;
      });
    });
    return out;
  }

  async embed(text: string): Promise<Float32Array> {
    return (await this.embedMany([text]))[0]!;
  }

  /** Releases the session(s) and stops the worker threads, if any. Idempotent. */
  async dispose(): Promise<void> {
    const r = this.#runner;
    this.#runner = null;
    await r?.release();
  }
}

/** Load (building and caching the graph on first use) the onnxruntime MiniLM embedder. */
export async function loadOnnxSentenceEmbedder(options: OnnxSentenceEmbedderOptions = {}): Promise<OnnxSentenceEmbedder> {
  const dir = options.modelDir ?? (await ensureEmbeddingModel(options));
  const modelPath = ensureMiniLmGraph(dir, options.onProgress, options.precision);
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as BertConfig;
  const sbert = JSON.parse(readFileSync(join(dir, "sentence_bert_config.json"), "utf8")) as { max_seq_length: number };
  const vocab = readFileSync(join(dir, "vocab.txt"), "utf8").split("\n");
  if (vocab.at(-1) === "") vocab.pop();
  const ort = await import("onnxruntime-node");
  const threads = options.threads ?? 2;
  const precision = options.precision ?? "fp32";
  if (options.sentences && precision === "fp32")
    throw new RangeError(
      'sentence pooling needs an int8 graph (they alone output the hidden states): pass precision: "int8" or "int8-row"',
    );
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a whole number ≥ 1, got ${threads}`);
  const thread = options.thread ?? (threads === 1 ? "caller" : "workers");
  const sessionOptions = {
    intraOpNumThreads: thread === "workers" ? 1 : threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    logSeverityLevel: 3,
    // Threads that spin between ops burn the CPU another process needs: on a shared 2-core machine
    // no spinning doubled texts/s (and texts per CPU-second) of the int8 graph.
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  } as const;
  const runner =
    thread === "workers"
      ? await openSessionPool(modelPath, sessionOptions, { size: threads, what: `the MiniLM encoder (${precision})` })
      : await openCallerSession(ort, modelPath, sessionOptions);
  const modelId = `${modelPath
    .split("/")
    .at(-2)!
    .replace(/^onnx-/, "")}${options.sentences ? "-s" : ""}`;
  return new OnnxSentenceEmbedder(
    runner,
    new WordPieceTokenizer(vocab),
    sbert.max_seq_length,
    config.hidden_size,
    options.batchSize ?? (precision === "int8" ? 1 : precision === "int8-row" ? 8 : 32),
    modelId,
    options.sentences ?? false,
  );
}
