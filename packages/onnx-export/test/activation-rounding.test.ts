// The graph's activation roundings against a plain transcription of ggml's CPU quantizers
// (arch/x86/quants.c quantize_row_q8_0/q8_1 for AVX2, ggml-quants.c quantize_row_q8_K_ref), run
// through real onnxruntime at the optimisation level the backend uses.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { roundActivation, roundToF16 } from "../src/activation-rounding.js";
import { GraphBuilder } from "../src/graph-builder.js";
import type { ActivationRounding } from "../src/numerics.js";

const f = Math.fround;
/** Values as a list, with −0 read as 0 (ggml's int8 codes have no signed zero). */
const values = (a: Float32Array) => Array.from(a, (v) => (v === 0 ? 0 : v));

/** Round half to even (_mm256_round_ps _MM_ROUND_NEAREST, nearest_int, F16C). */
function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** fp32 → nearest fp16 (ties to even) → fp32, for finite values in fp16 range. */
function roundF16(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, -14) - 10);
  return roundHalfEven(x / ulp) * ulp;
}

/** ggml's Q8_0 / Q8_1 values of one row (AVX2 quantize_row_q8_0/q8_1) and the Q8_1 block sums. */
function q8Blocks32(x: Float32Array): { values: Float32Array; sums: Float32Array; valueSums: Float32Array } {
  const values = new Float32Array(x.length);
  const sums = new Float32Array(x.length / 32);
  const valueSums = new Float32Array(x.length / 32);
  for (let b = 0; b < x.length / 32; b++) {
    const block = x.subarray(b * 32, b * 32 + 32);
    const amax = block.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const d = f(amax / 127);
    const d16 = roundF16(d);
    const id = amax !== 0 ? f(127 / amax) : 0;
    let sumQ = 0;
    for (let j = 0; j < 32; j++) {
      const q = roundHalfEven(f(block[j]! * id));
      sumQ += q;
      values[b * 32 + j] = f(q * d16);
    }
    sums[b] = roundF16(f(d * sumQ));
    valueSums[b] = f(d16 * sumQ);
  }
  return { values, sums, valueSums };
}

/** ggml's Q8_K values of one row (quantize_row_q8_K_ref). */
function q8K(x: Float32Array): Float32Array {
  const values = new Float32Array(x.length);
  for (let b = 0; b < x.length / 256; b++) {
    let max = 0;
    let amax = 0;
    for (let j = 0; j < 256; j++) {
      const v = x[b * 256 + j]!;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    if (amax === 0) continue;
    const iscale = f(-127 / max);
    const d = f(1 / iscale);
    for (let j = 0; j < 256; j++) values[b * 256 + j] = f(Math.min(127, roundHalfEven(f(iscale * x[b * 256 + j]!))) * d);
  }
  return values;
}

/** Activations shaped like a transformer's: mostly small, a few large outlier features, some exact ties and zero blocks. */
function activations(rows: number, features: number): Float32Array {
  let seed = 11;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed / 2 ** 32) * 2 - 1;
  };
  const x = new Float32Array(rows * features);
  for (let i = 0; i < x.length; i++) {
    const feature = i % features;
    x[i] = rand() * (feature % 97 === 5 ? 40 : 1.5) * (1 + (Math.floor(i / features) % 3));
  }
  // A block whose values sit on exact half steps (127/amax = 1): ties to even.
  for (let j = 0; j < 32; j++) x[j] = j === 0 ? 127 : (j % 8) - 3.5;
  x.fill(0, 64, 96); // an all-zero block
  return x;
}

const dir = await mkdtemp(join(tmpdir(), "emosteer-rounding-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function runGraph(
  build: (g: GraphBuilder, x: string) => Record<string, string>,
  x: Float32Array,
  dims: number[],
): Promise<Record<string, Float32Array>> {
  const name = `g${Math.random().toString(36).slice(2)}`;
  const g = new GraphBuilder(join(dir, `${name}.data`), `${name}.data`);
  const input = g.input("x", "float32", dims);
  const outputs = build(g, input);
  for (const [out, value] of Object.entries(outputs)) {
    g.op("Identity", [value], {}, { output: out });
    g.output(out, "float32", ["b", "s", "n"]);
  }
  await writeFile(join(dir, `${name}.onnx`), g.encode("rounding", 17));
  const session = await ort.InferenceSession.create(join(dir, `${name}.onnx`), { graphOptimizationLevel: "all" });
  const result = await session.run({ x: new ort.Tensor("float32", x, dims) });
  await session.release();
  return Object.fromEntries(Object.keys(outputs).map((k) => [k, result[k]!.data as Float32Array]));
}

function perRow(x: Float32Array, features: number, fn: (row: Float32Array) => Float32Array): Float32Array {
  const out = new Float32Array((x.length / features) * fn(x.subarray(0, features)).length);
  const width = out.length / (x.length / features);
  for (let r = 0; r < x.length / features; r++) out.set(fn(x.subarray(r * features, (r + 1) * features)), r * width);
  return out;
}

describe("llama.cpp activation roundings in the graph", () => {
  const rows = 6;
  const features = 512;
  const x = activations(rows, features);
  const dims = [2, rows / 2, features];

  it.each<ActivationRounding>(["q8_0", "q8_1"])("%s values equal ggml's quantize_row bit for bit", async (rounding) => {
    const out = await runGraph(
      (g, input) => {
        const r = roundActivation(g, input, rounding, features);
        const outputs: Record<string, string> = { value: r.value };
        if (r.blockSumError) outputs.error = r.blockSumError;
        return outputs;
      },
      x,
      dims,
    );
    expect(values(out.value!)).toEqual(values(perRow(x, features, (row) => q8Blocks32(row).values)));
    if (rounding === "q8_1") {
      const expected = perRow(x, features, (row) => {
        const { sums, valueSums } = q8Blocks32(row);
        return sums.map((s, i) => f(s - valueSums[i]!));
      });
      expect(values(out.error!)).toEqual(values(expected));
      expect(expected.some((e) => e !== 0)).toBe(true);
    }
  });

  it("q8_K values equal ggml's quantize_row_q8_K_ref bit for bit", async () => {
    const out = await runGraph((g, input) => ({ value: roundActivation(g, input, "q8_K", features).value }), x, dims);
    expect(values(out.value!)).toEqual(values(perRow(x, features, q8K)));
  });

  it("fp16 rounding is round-half-even, like F16C", async () => {
    // Exact ties between fp16 neighbours, subnormals and ordinary values.
    const ties = Float32Array.from({ length: 512 }, (_, i) =>
      i < 128 ? (1024 + i + 0.5) * 2 ** -10 : i < 256 ? (i - 200) * 2 ** -24 * 0.75 : Math.sin(i) * 300,
    );
    const out = await runGraph((g, input) => ({ value: roundToF16(g, input) }), ties, [1, 1, 512]);
    expect(values(out.value!)).toEqual(values(Float32Array.from(ties, roundF16)));
  });
});
