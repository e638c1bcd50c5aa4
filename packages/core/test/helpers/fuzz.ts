/** Seeded mutation fuzzing of GGUF bytes: sources, mutators and the refusal checks. */
import { expect } from "vitest";
import { EmosteerError, InvalidFileError, type ByteSource } from "../../src/index.js";

/** Seeded PRNG (mulberry32): a failing variant reproduces from its seed. */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A file whose first bytes are `prefix` and the rest (up to `size`) zeros: a mutated header in
 * front of a model's tensor data, without holding the data. Records the largest read, so a test
 * can check that no count in the file made the reader ask for more than the file holds.
 */
export class VirtualFile implements ByteSource {
  largestRead = 0;
  constructor(
    readonly prefix: Uint8Array,
    readonly size: number,
    readonly name: string,
  ) {}
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.size))
      throw new Error(`read outside the file: ${offset}+${length} > ${this.size}`);
    this.largestRead = Math.max(this.largestRead, length);
    const out = new Uint8Array(length);
    if (offset < this.prefix.length) out.set(this.prefix.subarray(offset, Math.min(offset + length, this.prefix.length)));
    return out;
  }
}

/** A count, length or type field of a GGUF header. */
export interface Field {
  offset: number;
  bytes: 4 | 8;
  what: string;
}

/** The structural fields of a well-formed GGUF header (counts, lengths, types, dims, offsets). */
export function headerFields(b: Uint8Array): Field[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fields: Field[] = [
    { offset: 4, bytes: 4, what: "version" },
    { offset: 8, bytes: 8, what: "tensor count" },
    { offset: 16, bytes: 8, what: "kv count" },
  ];
  const u64 = (at: number) => Number(v.getBigUint64(at, true));
  let p = 24;
  const string = (what: string) => {
    fields.push({ offset: p, bytes: 8, what: `${what} length` });
    p += 8 + u64(p);
  };
  const sizes: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const kvCount = u64(16);
  for (let i = 0; i < kvCount; i++) {
    string("key");
    fields.push({ offset: p, bytes: 4, what: "value type" });
    const type = v.getUint32(p, true);
    p += 4;
    if (type === 9) {
      fields.push({ offset: p, bytes: 4, what: "array element type" }, { offset: p + 4, bytes: 8, what: "array length" });
      const elementType = v.getUint32(p, true);
      const n = u64(p + 4);
      p += 12;
      if (elementType === 8) for (let k = 0; k < n; k++) string("array string");
      else p += n * sizes[elementType]!;
    } else if (type === 8) {
      string("string value");
    } else {
      if (type === 4) fields.push({ offset: p, bytes: 4, what: "uint32 value" });
      p += sizes[type]!;
    }
  }
  const tensorCount = u64(8);
  for (let i = 0; i < tensorCount; i++) {
    string("tensor name");
    fields.push({ offset: p, bytes: 4, what: "n_dims" });
    const nDims = v.getUint32(p, true);
    p += 4;
    for (let d = 0; d < nDims; d++, p += 8) fields.push({ offset: p, bytes: 8, what: "dim" });
    fields.push({ offset: p, bytes: 4, what: "tensor type" }, { offset: p + 4, bytes: 8, what: "tensor offset" });
    p += 12;
  }
  return fields;
}

const INTERESTING_32 = [0, 1, 2, 3, 7, 8, 9, 12, 13, 31, 32, 33, 0x7f, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const INTERESTING_64 = [
  0n,
  1n,
  63n,
  64n,
  0xffffn,
  0xffffffffn,
  0x100000000n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 62n,
  2n ** 63n - 1n,
  2n ** 63n,
  2n ** 64n - 1n,
];

export type Mutation = "truncate" | "bit-flip" | "size-field" | "garbage" | "short-data";

/** One mutated variant of `base` (a header followed by `tailSize` bytes of data). */
export function mutate(
  base: Uint8Array,
  tailSize: number,
  fields: readonly Field[],
  kind: Mutation,
  random: () => number,
  name: string,
): VirtualFile {
  const pick = (n: number) => Math.floor(random() * n);
  const total = base.length + tailSize;
  switch (kind) {
    case "truncate": {
      // Half the cuts land on a field boundary, where a reader is most likely to misjudge.
      const cut = random() < 0.5 && fields.length ? fields[pick(fields.length)]!.offset + pick(9) : pick(base.length);
      return new VirtualFile(base.subarray(0, cut), Math.min(cut, total), `${name} cut at ${cut}`);
    }
    case "short-data": {
      const size = base.length + pick(tailSize + 1);
      return new VirtualFile(base, size, `${name} with ${size - base.length} of ${tailSize} data bytes`);
    }
    case "bit-flip": {
      const b = base.slice();
      const flips = 1 + pick(4);
      for (let i = 0; i < flips; i++) {
        const at =
          random() < 0.5 && fields.length
            ? (() => {
                const f = fields[pick(fields.length)]!;
                return f.offset + pick(f.bytes);
              })()
            : pick(b.length);
        b[at]! ^= 1 << pick(8);
      }
      return new VirtualFile(b, total, `${name} with ${flips} bit flips`);
    }
    case "size-field": {
      const b = base.slice();
      const v = new DataView(b.buffer);
      const f = fields[pick(fields.length)]!;
      if (f.bytes === 4) {
        const old = v.getUint32(f.offset, true);
        const values = [...INTERESTING_32, old + 1, old - 1, old * 2, pick(2 ** 32)];
        v.setUint32(f.offset, values[pick(values.length)]! >>> 0, true);
      } else {
        const old = v.getBigUint64(f.offset, true);
        const values = [...INTERESTING_64, old + 1n, old > 0n ? old - 1n : 0n, old * 2n, old << 32n, BigInt(pick(2 ** 32))];
        v.setBigUint64(f.offset, BigInt.asUintN(64, values[pick(values.length)]!), true);
      }
      return new VirtualFile(b, total, `${name} with ${f.what} at ${f.offset} mangled`);
    }
    case "garbage": {
      const b = base.slice();
      const at = pick(b.length);
      const n = 1 + pick(64);
      for (let i = at; i < Math.min(b.length, at + n); i++) b[i] = pick(256);
      return new VirtualFile(b, total, `${name} with ${n} garbage bytes at ${at}`);
    }
  }
}

/** Fails unless `error` is one of ours, and an InvalidFileError names the file and a reason. */
export function expectClearRefusal(
  error: unknown,
  file: VirtualFile,
  allowed: readonly (abstract new (...args: never[]) => EmosteerError)[],
): string {
  if (!(error instanceof EmosteerError) || !allowed.some((c) => error instanceof c)) {
    expect.fail(`${file.name}: unexpected ${(error as Error)?.name ?? typeof error}: ${(error as Error)?.stack ?? String(error)}`);
  }
  if (error instanceof InvalidFileError) {
    expect(error.path).toBe(file.name);
    expect(error.reason.length, error.message).toBeGreaterThan(15);
    if (error.offset !== undefined) {
      expect(error.offset, error.message).toBeGreaterThanOrEqual(0);
      expect(error.offset, error.message).toBeLessThanOrEqual(file.size);
    }
  }
  // The reason without numbers, to count the distinct kinds of refusal.
  return error.message
    .replace(file.name, "")
    .replace(/\d+/g, "N")
    .replace(/"[^"]*"/g, "S")
    .slice(0, 80);
}
