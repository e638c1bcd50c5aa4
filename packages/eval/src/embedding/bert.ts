import { InvalidFileError } from "@emosteer/core";

type Tensors = Map<string, { shape: number[]; data: Float32Array }>;

interface Linear {
  readonly weight: Float32Array; // [out, in], PyTorch layout
  readonly bias: Float32Array;
  readonly inSize: number;
  readonly outSize: number;
}

interface Norm {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
}

interface Layer {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly attentionOut: Linear;
  readonly attentionNorm: Norm;
  readonly intermediate: Linear;
  readonly output: Linear;
  readonly outputNorm: Norm;
}

export interface BertConfig {
  readonly hidden_size: number;
  readonly num_attention_heads: number;
  readonly num_hidden_layers: number;
  readonly intermediate_size: number;
  readonly layer_norm_eps: number;
  readonly max_position_embeddings: number;
}

/**
 * y[t, o] = b[o] + Σ_i x[t, i] · W[o, i]. Register-blocked 4 rows × 4 outputs so each loaded x and
 * W value feeds four multiply-adds (about 2× faster than one dot product at a time in V8).
 */
function linear(x: Float32Array, rows: number, l: Linear): Float32Array {
  const { weight: w, bias, inSize: n, outSize: m } = l;
  const y = new Float32Array(rows * m);
  const fullRows = rows - (rows % 4);
  const fullOuts = m - (m % 4);
  for (let t = 0; t < fullRows; t += 4) {
    const x0 = t * n;
    const x1 = x0 + n;
    const x2 = x1 + n;
    const x3 = x2 + n;
    for (let o = 0; o < fullOuts; o += 4) {
      const w0 = o * n;
      const w1 = w0 + n;
      const w2 = w1 + n;
      const w3 = w2 + n;
      let s00 = 0,
        s01 = 0,
        s02 = 0,
        s03 = 0;
      let s10 = 0,
        s11 = 0,
        s12 = 0,
        s13 = 0;
      let s20 = 0,
        s21 = 0,
        s22 = 0,
        s23 = 0;
      let s30 = 0,
        s31 = 0,
        s32 = 0,
        s33 = 0;
      for (let i = 0; i < n; i++) {
        const a0 = x[x0 + i]!;
        const a1 = x[x1 + i]!;
        const a2 = x[x2 + i]!;
        const a3 = x[x3 + i]!;
        const b0 = w[w0 + i]!;
        const b1 = w[w1 + i]!;
        const b2 = w[w2 + i]!;
        const b3 = w[w3 + i]!;
        s00 += a0 * b0;
        s01 += a0 * b1;
        s02 += a0 * b2;
        s03 += a0 * b3;
        s10 += a1 * b0;
        s11 += a1 * b1;
        s12 += a1 * b2;
        s13 += a1 * b3;
        s20 += a2 * b0;
        s21 += a2 * b1;
        s22 += a2 * b2;
        s23 += a2 * b3;
        s30 += a3 * b0;
        s31 += a3 * b1;
        s32 += a3 * b2;
        s33 += a3 * b3;
      }
      const c0 = bias[o]!,
        c1 = bias[o + 1]!,
        c2 = bias[o + 2]!,
        c3 = bias[o + 3]!;
      let r = t * m + o;
      y[r] = s00 + c0;
      y[r + 1] = s01 + c1;
      y[r + 2] = s02 + c2;
      y[r + 3] = s03 + c3;
      r += m;
      y[r] = s10 + c0;
      y[r + 1] = s11 + c1;
      y[r + 2] = s12 + c2;
      y[r + 3] = s13 + c3;
      r += m;
      y[r] = s20 + c0;
      y[r + 1] = s21 + c1;
      y[r + 2] = s22 + c2;
      y[r + 3] = s23 + c3;
      r += m;
      y[r] = s30 + c0;
      y[r + 1] = s31 + c1;
      y[r + 2] = s32 + c2;
      y[r + 3] = s33 + c3;
    }
  }
  // Edges: leftover rows (all outputs) and leftover outputs (blocked rows), one dot product each.
  const dot = (t: number, o: number) => {
    const xo = t * n;
    const wo = o * n;
    let s = 0;
    for (let i = 0; i < n; i++) s += x[xo + i]! * w[wo + i]!;
    y[t * m + o] = s + bias[o]!;
  };
  for (let t = fullRows; t < rows; t++) for (let o = 0; o < m; o++) dot(t, o);
  for (let t = 0; t < fullRows; t++) for (let o = fullOuts; o < m; o++) dot(t, o);
  return y;
}

function layerNormInPlace(x: Float32Array, rows: number, size: number, norm: Norm, eps: number): void {
  for (let t = 0; t < rows; t++) {
    const o = t * size;
    let mean = 0;
    for (let i = 0; i < size; i++) mean += x[o + i]!;
    mean /= size;
    let variance = 0;
    for (let i = 0; i < size; i++) variance += (x[o + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / size + eps);
    for (let i = 0; i < size; i++) x[o + i] = (x[o + i]! - mean) * inv * norm.weight[i]! + norm.bias[i]!;
  }
}

/** erf by Abramowitz & Stegun 7.1.26 refined (|error| < 1.2e-7), enough for float32 GELU. */
function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

/** A BERT encoder (post-LayerNorm, exact GELU, absolute positions) over float32 weights. */
export class BertEncoder {
  readonly #wordEmbeddings: Float32Array;
  readonly #positionEmbeddings: Float32Array;
  readonly #tokenTypeEmbeddings: Float32Array;
  readonly #embeddingNorm: Norm;
  readonly #layers: Layer[];

  constructor(
    readonly config: BertConfig,
    tensors: Tensors,
    path: string,
  ) {
    const get = (name: string, shape: number[]) => {
      const t = tensors.get(name) ?? tensors.get(`bert.${name}`);
      if (!t) throw new InvalidFileError(path, `missing tensor ${name}`);
      if (t.shape.join("x") !== shape.join("x"))
        throw new InvalidFileError(path, `tensor ${name} has shape ${t.shape.join("x")}, expected ${shape.join("x")}`);
      return t.data;
    };
    const h = config.hidden_size;
    const lin = (name: string, out: number, inp: number): Linear => ({
      weight: get(`${name}.weight`, [out, inp]),
      bias: get(`${name}.bias`, [out]),
      inSize: inp,
      outSize: out,
    });
    const norm = (name: string): Norm => ({ weight: get(`${name}.weight`, [h]), bias: get(`${name}.bias`, [h]) });
    this.#wordEmbeddings = tensors.get("embeddings.word_embeddings.weight")?.data ?? get("embeddings.word_embeddings.weight", [0, h]);
    this.#positionEmbeddings = get("embeddings.position_embeddings.weight", [config.max_position_embeddings, h]);
    this.#tokenTypeEmbeddings = get("embeddings.token_type_embeddings.weight", [2, h]);
    this.#embeddingNorm = norm("embeddings.LayerNorm");
    this.#layers = [];
    for (let l = 0; l < config.num_hidden_layers; l++) {
      const p = `encoder.layer.${l}`;
      this.#layers.push({
        query: lin(`${p}.attention.self.query`, h, h),
        key: lin(`${p}.attention.self.key`, h, h),
        value: lin(`${p}.attention.self.value`, h, h),
        attentionOut: lin(`${p}.attention.output.dense`, h, h),
        attentionNorm: norm(`${p}.attention.output.LayerNorm`),
        intermediate: lin(`${p}.intermediate.dense`, config.intermediate_size, h),
        output: lin(`${p}.output.dense`, h, config.intermediate_size),
        outputNorm: norm(`${p}.output.LayerNorm`),
      });
    }
  }

  /** Last hidden state, `ids.length × hidden` row-major, for one unpadded sequence. */
  forward(ids: readonly number[]): Float32Array {
    const h = this.config.hidden_size;
    const T = ids.length;
    const vocab = this.#wordEmbeddings.length / h;
    if (T > this.config.max_position_embeddings)
      throw new RangeError(`Sequence of ${T} tokens exceeds ${this.config.max_position_embeddings} positions`);
    let x: Float32Array = new Float32Array(T * h);
    for (let t = 0; t < T; t++) {
      const id = ids[t]!;
      if (!(id >= 0 && id < vocab)) throw new RangeError(`Token id ${id} outside the vocabulary of ${vocab}`);
      for (let i = 0; i < h; i++)
        x[t * h + i] = this.#wordEmbeddings[id * h + i]! + this.#positionEmbeddings[t * h + i]! + this.#tokenTypeEmbeddings[i]!;
    }
    const eps = this.config.layer_norm_eps;
    layerNormInPlace(x, T, h, this.#embeddingNorm, eps);
    const heads = this.config.num_attention_heads;
    const d = h / heads;
    const scale = 1 / Math.sqrt(d);
    const scores = new Float64Array(T);
    for (const layer of this.#layers) {
      const q = linear(x, T, layer.query);
      const k = linear(x, T, layer.key);
      const v = linear(x, T, layer.value);
      const context = new Float32Array(T * h);
      for (let head = 0; head < heads; head++) {
        const ho = head * d;
        for (let i = 0; i < T; i++) {
          let max = -Infinity;
          for (let j = 0; j < T; j++) {
            let s = 0;
            for (let e = 0; e < d; e++) s += q[i * h + ho + e]! * k[j * h + ho + e]!;
            scores[j] = s * scale;
            if (scores[j]! > max) max = scores[j]!;
          }
          let sum = 0;
          for (let j = 0; j < T; j++) {
            scores[j] = Math.exp(scores[j]! - max);
            sum += scores[j]!;
          }
          for (let j = 0; j < T; j++) {
            const a = scores[j]! / sum;
            for (let e = 0; e < d; e++) context[i * h + ho + e]! += a * v[j * h + ho + e]!;
          }
        }
      }
      const attention = linear(context, T, layer.attentionOut);
      for (let i = 0; i < attention.length; i++) attention[i]! += x[i]!;
      layerNormInPlace(attention, T, h, layer.attentionNorm, eps);
      const inner = linear(attention, T, layer.intermediate);
      for (let i = 0; i < inner.length; i++) inner[i] = 0.5 * inner[i]! * (1 + erf(inner[i]! / Math.SQRT2));
      const out = linear(inner, T, layer.output);
      for (let i = 0; i < out.length; i++) out[i]! += attention[i]!;
      layerNormInPlace(out, T, h, layer.outputNorm, eps);
      x = out;
    }
    return x;
  }
}
