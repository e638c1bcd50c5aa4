/**
 * The GGUF reader and dequantizers against gguf-py (llama.cpp's reference implementation) on the
 * real SmolLM2 and Gemma-3 files, and on synthetic blocks of the types those files lack.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEQUANTIZABLE_TYPES,
  dequantize,
  ggmlTypeName,
  GgmlType,
  ggufValueTypeName,
  openGguf,
  type GgufArrayValue,
  type GgufFile,
  type GgufTensorInfo,
} from "../src/index.js";
import { fileByteSource, readModelInfo, type FileByteSource } from "../src/node/index.js";
import { runGgufPy } from "./helpers/gguf-py.js";
import { ensureModel } from "./helpers/models.js";

interface OracleField {
  type: string;
  elementType?: string;
  value?: unknown;
  length?: number;
  head?: unknown[];
  tail?: unknown[];
  sha256?: string;
}
interface OracleMetadata {
  fields: Record<string, OracleField>;
  tensors: { name: string; type: string; dims: number[]; absoluteOffset: number; byteLength: number }[];
}

const MAX_VALUES = 1 << 20;
const work = mkdtempSync(join(tmpdir(), "emosteer-gguf-oracle-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Index of the first value whose float32 bits differ, or -1. A NaN matches any NaN: whether a
 * signalling float16 NaN keeps its payload or comes out quieted depends on the CPU numpy runs on
 * (F16C hardware conversion quiets it, the portable path does not), and nothing reads NaN payloads.
 */
function firstBitMismatch(actual: Float32Array, expected: Float32Array): number {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  if (a.length !== e.length) return Math.min(a.length, e.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i] && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) return i;
  }
  return -1;
}

/** sha256 of an array as gguf_oracle.py digests it: strings joined by NUL, numbers as stored. */
function arrayDigest(value: GgufArrayValue): string {
  const hash = createHash("sha256");
  if (ArrayBuffer.isView(value)) {
    if (value.length > 0) hash.update(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  } else if (typeof value[0] === "string") {
    hash.update(Buffer.from((value as readonly string[]).join("\0"), "utf8"));
  } else {
    hash.update(Uint8Array.from(value as readonly boolean[], (b) => (b ? 1 : 0)));
  }
  return hash.digest("hex");
}

function readF32(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Up to three tensors of each type: the smallest, a middle one and the largest. */
function sampleTensors(gguf: GgufFile): GgufTensorInfo[] {
  const byType = new Map<number, GgufTensorInfo[]>();
  for (const t of gguf.tensors) byType.set(t.type, [...(byType.get(t.type) ?? []), t]);
  return [...byType.values()].flatMap((ts) => {
    const sorted = [...ts].sort((a, b) => a.elementCount - b.elementCount);
    return [...new Set([sorted[0]!, sorted[sorted.length >> 1]!, sorted[sorted.length - 1]!])];
  });
}

for (const modelId of ["smollm2-135m-instruct", "gemma3-270m"]) {
  describe(`GGUF reader on ${modelId}`, () => {
    let path: string;
    let sha256: string;
    let source: FileByteSource;
    let gguf: GgufFile;

    beforeAll(async () => {
      ({ path, sha256 } = await ensureModel(modelId));
      source = await fileByteSource(path);
      gguf = await openGguf(source);
    });
    afterAll(() => source?.dispose());

    it("reads the same metadata and tensor infos as gguf-py", async () => {
      const oracle = await runGgufPy<OracleMetadata>({ op: "metadata", gguf: path }, { cacheKey: sha256 });
      expect([...gguf.metadata.keys()]).toEqual(Object.keys(oracle.fields));
      for (const [key, want] of Object.entries(oracle.fields)) {
        const entry = gguf.metadata.get(key)!;
        expect(ggufValueTypeName(entry.type), key).toBe(want.type);
        if (want.type === "ARRAY") {
          const values = Array.from(entry.value as ArrayLike<unknown>);
          expect(ggufValueTypeName(entry.elementType!), key).toBe(want.elementType);
          expect(values.length, key).toBe(want.length);
          expect(values.slice(0, 3), key).toEqual(want.head);
          expect(values.slice(-3), key).toEqual(want.tail);
          expect(arrayDigest(entry.value as GgufArrayValue), key).toBe(want.sha256);
        } else {
          expect(typeof entry.value === "bigint" ? String(entry.value) : entry.value, key).toEqual(want.value);
        }
      }
      expect(
        gguf.tensors.map((t) => ({
          name: t.name,
          type: ggmlTypeName(t.type),
          dims: t.dims,
          absoluteOffset: gguf.dataOffset + t.offset,
          byteLength: t.byteLength,
        })),
      ).toEqual(oracle.tensors);
    }, 300_000); // gguf-py needs a minute for Gemma's 262k-token vocabulary (then cached)

    it("dequantizes every tensor type it holds bit-exactly like gguf-py", async () => {
      const sample = sampleTensors(gguf);
      const dir = mkdtempSync(join(work, `${modelId}-`));
      // At most ~1M values per tensor: dequantization is row by row, so a prefix of rows is as telling.
      const rows = sample.map((t) => Math.min(t.elementCount / (t.dims[0] ?? 1), Math.max(1, Math.floor(MAX_VALUES / (t.dims[0] ?? 1)))));
      const tensors = sample.map((t, i) => ({
        offset: gguf.dataOffset + t.offset,
        type: ggmlTypeName(t.type),
        rowLength: t.dims[0] ?? 1,
        rows: rows[i],
      }));
      await runGgufPy({ op: "tensors", gguf: path, tensors, out: dir });
      const checked = new Set<string>();
      for (const [i, info] of sample.entries()) {
        const values = rows[i]! * (info.dims[0] ?? 1);
        const ours =
          values === info.elementCount ? await gguf.readTensor(info) : dequantize(await gguf.readTensorBytes(info), info.type, values);
        expect(ours.length, info.name).toBe(values);
        const theirs = readF32(join(dir, `${i}.f32`));
        expect(firstBitMismatch(ours, theirs), `${info.name} (${ggmlTypeName(info.type)}) first differing value`).toBe(-1);
        checked.add(ggmlTypeName(info.type));
      }
      expect([...checked].sort()).toEqual([...new Set(gguf.tensors.map((t) => ggmlTypeName(t.type)))].sort());
    });

    it("gives the model's ModelInfo, fingerprinted by the file's sha256", async () => {
      const info = await readModelInfo(path);
      expect(info.fingerprint).toBe(sha256.slice(0, 16));
      expect(info.layerCount).toBe(gguf.tensors.filter((t) => /^blk\.\d+\.attn_norm\.weight$/.test(t.name)).length);
      expect(info.hiddenSize).toBe(gguf.tensor("token_embd.weight")!.dims[0]);
      expect(info.vocabSize).toBe(gguf.tensor("token_embd.weight")!.dims[1]);
      expect(info.architecture).toBe(modelId.startsWith("gemma") ? "gemma3" : "llama");
      if (modelId.startsWith("smollm2")) {
        expect(info).toMatchObject({ layerCount: 30, hiddenSize: 576, vocabSize: 49152 });
        expect(info.chatTemplate).toContain("<|im_start|>");
      }
    });
  });
}

describe("dequantizers on synthetic blocks", () => {
  for (const type of DEQUANTIZABLE_TYPES) {
    const name = ggmlTypeName(type);
    it(`${name} equals gguf-py on random and quantized blocks`, async () => {
      const dir = mkdtempSync(join(work, `${name}-`));
      const blocks = type === GgmlType.F32 || type === GgmlType.F16 || type === GgmlType.BF16 ? 4096 : 512;
      const counts = await runGgufPy<Record<string, number>>({ op: "synthetic", type: name, blocks, seed: 1234 + type, out: dir });
      expect(Object.keys(counts)).toContain("random");
      for (const [variant, count] of Object.entries(counts)) {
        const bytes = new Uint8Array(readFileSync(join(dir, `${variant}.bin`)));
        const ours = dequantize(bytes, type, count);
        const theirs = readF32(join(dir, `${variant}.f32`));
        expect(firstBitMismatch(ours, theirs), `${name} ${variant}: first differing value`).toBe(-1);
      }
    });
  }
});
