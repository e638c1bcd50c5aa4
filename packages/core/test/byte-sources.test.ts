import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DisposedError, blobByteSource, bytesByteSource, encodeGguf, GgmlType, GgufValueType, openGguf } from "../src/index.js";
import { fileByteSource, fileFingerprint } from "../src/node/index.js";

const work = mkdtempSync(join(tmpdir(), "emosteer-byte-sources-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sample = encodeGguf({
  metadata: [
    ["general.architecture", { type: GgufValueType.STRING, value: "test" }],
    ["test.values", { type: GgufValueType.ARRAY, elementType: GgufValueType.INT64, value: new BigInt64Array([-1n, 2n ** 62n]) }],
    ["test.flags", { type: GgufValueType.ARRAY, elementType: GgufValueType.BOOL, value: [true, false] }],
    ["test.pi", { type: GgufValueType.FLOAT64, value: Math.PI }],
  ],
  tensors: [{ name: "w", dims: [4, 2], type: GgmlType.F32, data: new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer) }],
  alignment: 64,
});

describe("byte sources", () => {
  it("read the same GGUF from memory, a Blob and a file", async () => {
    const path = join(work, "sample.gguf");
    writeFileSync(path, sample);
    const file = await fileByteSource(path);
    try {
      for (const source of [bytesByteSource(sample), blobByteSource(new Blob([sample])), file]) {
        const gguf = await openGguf(source);
        expect(gguf.alignment).toBe(64);
        expect(gguf.dataOffset % 64).toBe(0);
        expect(gguf.get("test.values")).toEqual(new BigInt64Array([-1n, 2n ** 62n]));
        expect(gguf.get("test.flags")).toEqual([true, false]);
        expect(gguf.get("test.pi")).toBe(Math.PI);
        expect([...(await gguf.readTensor("w"))]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        expect(gguf.tensor("w")).toMatchObject({ dims: [4, 2], elementCount: 8, byteLength: 32 });
      }
    } finally {
      await file.dispose();
    }
    await file.dispose(); // idempotent
    await expect(file.read(0, 4)).rejects.toThrow(DisposedError);
  });
});

describe("fileFingerprint", () => {
  it("is the first 16 hex digits of the sha256, recomputed when the file changes, kept in a cache file", async () => {
    const path = join(work, "model.bin");
    const cacheFile = join(work, "cache", "fingerprints.json");
    writeFileSync(path, "first version");
    const sha = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 16);
    const seen: number[] = [];
    expect(await fileFingerprint(path, { cacheFile, onProgress: (p) => seen.push(p.bytes) })).toBe(sha("first version"));
    expect(seen.at(-1)).toBe("first version".length);
    expect(Object.values(JSON.parse(readFileSync(cacheFile, "utf8")))).toEqual([sha("first version")]);
    writeFileSync(path, "second version!");
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    expect(await fileFingerprint(path, { cacheFile })).toBe(sha("second version!"));
    expect(Object.values(JSON.parse(readFileSync(cacheFile, "utf8")))).toHaveLength(2);
  });
});
