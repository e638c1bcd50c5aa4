/**
 * Fuzzing the GGUF reader with truncated, bit-flipped, size-field-mangled and garbage-filled
 * variants of the real SmolLM2 header: every variant is parsed (and, when accepted, its ModelInfo
 * built and a tensor dequantized) or refused with an InvalidFileError that says why. No other
 * exception, no hang, no read (hence no allocation) larger than the file.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  DEQUANTIZABLE_TYPES,
  GgufValueType,
  InvalidFileError,
  UnsupportedFormatError,
  encodeGguf,
  modelInfoFromGguf,
  openGguf,
  type GgufEntry,
} from "../src/index.js";
import { fileByteSource } from "../src/node/index.js";
import { expectClearRefusal, headerFields, mutate, prng, type Field, type Mutation } from "./helpers/fuzz.js";
import { ensureModel } from "./helpers/models.js";

const MUTATIONS: Mutation[] = ["truncate", "bit-flip", "size-field", "garbage", "short-data"];

interface Base {
  header: Uint8Array;
  tailSize: number;
  fields: Field[];
}

let full: Base;
let small: Base;

beforeAll(async () => {
  const { path } = await ensureModel("smollm2-135m-instruct");
  const source = await fileByteSource(path);
  try {
    const gguf = await openGguf(source);
    const header = await source.read(0, gguf.dataOffset);
    full = { header, tailSize: source.size - gguf.dataOffset, fields: headerFields(header) };

    // The same header with its 49k-entry tokenizer arrays cut to 64 entries, so that thousands of
    // variants parse in seconds; the tensor infos are kept byte for byte.
    const metadata = [...gguf.metadata].map(([key, e]): [string, GgufEntry] =>
      e.type === GgufValueType.ARRAY ? [key, { ...e, value: (e.value as Uint8Array).slice(0, 64) }] : [key, e],
    );
    const kvPart = encodeGguf({ metadata, tensors: [] });
    const tensorFields = full.fields.filter((f) => f.what === "tensor name length");
    const infoStart = tensorFields[0]!.offset;
    const infoEnd = full.fields.at(-1)!.offset + 8;
    const unpadded = kvPart.length + (infoEnd - infoStart);
    const shrunk = new Uint8Array(Math.ceil(unpadded / gguf.alignment) * gguf.alignment);
    shrunk.set(kvPart);
    shrunk.set(header.subarray(infoStart, infoEnd), kvPart.length);
    new DataView(shrunk.buffer).setBigUint64(8, BigInt(gguf.tensors.length), true);
    small = { header: shrunk, tailSize: full.tailSize, fields: headerFields(shrunk) };
  } finally {
    await source.dispose();
  }
});

/** Parses `count` variants (fewer if `budgetMs` runs out, but never fewer than `min`). */
async function fuzz(base: Base, seed: number, min: number, count: number, budgetMs: number) {
  const random = prng(seed);
  const refusals = new Map<string, number>();
  let accepted = 0;
  let variants = 0;
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const deadline = performance.now() + budgetMs;
  while (variants < min || (variants < count && performance.now() < deadline)) {
    const kind = MUTATIONS[variants % MUTATIONS.length]!;
    const file = mutate(base.header, base.tailSize, base.fields, kind, random, `smollm2#${seed}.${variants}`);
    variants++;
    try {
      const gguf = await openGguf(file);
      accepted++;
      try {
        modelInfoFromGguf(gguf, { fingerprint: "0000000000000000" });
      } catch (error) {
        expectClearRefusal(error, file, [InvalidFileError]);
      }
      const small = gguf.tensors.filter((t) => t.byteLength < 1 << 20 && DEQUANTIZABLE_TYPES.includes(t.type))[0];
      if (small) expect((await gguf.readTensor(small)).length).toBe(small.elementCount);
      const other = gguf.tensors.find((t) => !DEQUANTIZABLE_TYPES.includes(t.type) && t.byteLength < 1 << 20);
      if (other) await expect(gguf.readTensor(other)).rejects.toThrow(UnsupportedFormatError);
    } catch (error) {
      const reason = expectClearRefusal(error, file, [InvalidFileError]);
      refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
    }
    expect(file.largestRead, file.name).toBeLessThanOrEqual(file.size);
    if (variants % 64 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }
  return { variants, accepted, refusals, rssGrowthMiB: (rssPeak - rssBefore) / 2 ** 20 };
}

describe("GGUF reader fuzzing", () => {
  it("refuses thousands of mangled variants of the (vocabulary-trimmed) SmolLM2 header cleanly", async () => {
    const { variants, accepted, refusals, rssGrowthMiB } = await fuzz(small, 20261125, 1000, 5000, 5000);
    console.log(
      `trimmed header (${small.header.length} bytes): ${variants} variants, ${accepted} accepted, ${variants - accepted} refused for ${refusals.size} kinds of reason; RSS +${rssGrowthMiB.toFixed(0)} MiB`,
    );
    expect(variants - accepted).toBeGreaterThan(variants / 3);
    expect(refusals.size).toBeGreaterThan(15);
    expect(rssGrowthMiB).toBeLessThan(1024);
  });

  it("refuses mangled variants of the full SmolLM2 header (1.8 MB, 98k strings) cleanly", async () => {
    const { variants, accepted, refusals, rssGrowthMiB } = await fuzz(full, 7, 30, 400, 4000);
    console.log(
      `full header (${full.header.length} bytes): ${variants} variants, ${accepted} accepted, ${variants - accepted} refused for ${refusals.size} kinds of reason; RSS +${rssGrowthMiB.toFixed(0)} MiB`,
    );
    expect(variants - accepted).toBeGreaterThan(variants / 4);
    expect(rssGrowthMiB).toBeLessThan(1024);
  });

  it("names the problem in the message, e.g. for a truncated file and a giant array length", async () => {
    const cut = mutate(full.header, full.tailSize, [], "truncate", () => 0.9, "model.gguf");
    await expect(openGguf(cut)).rejects.toThrow(/^model\.gguf cut at \d+: .*(truncated|ends inside)/);
    const b = full.header.slice();
    const lengthField = full.fields.find((f) => f.what === "array length")!;
    new DataView(b.buffer).setBigUint64(lengthField.offset, 15_000_000n, true); // 15M strings need 120 MB, the file has 96
    const { VirtualFile } = await import("./helpers/fuzz.js");
    await expect(openGguf(new VirtualFile(b, b.length + full.tailSize, "model.gguf"))).rejects.toThrow(
      /claims 15000000 strings, more than the \d+ bytes left can hold/,
    );
  });
});
