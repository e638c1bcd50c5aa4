import { ggmlTypeName, ggmlTypeTraits, type GgmlType } from "./ggml-type.js";
import { FIXED_VALUE_SIZE, GgufValueType, ggufValueTypeName, type GgufEntry } from "./gguf-value.js";

/** A tensor to write: its raw bytes as they should be stored. */
export interface GgufTensorInput {
  readonly name: string;
  /** GGML order: `dims[0]` is the innermost (row) length. */
  readonly dims: readonly number[];
  readonly type: GgmlType;
  readonly data: Uint8Array;
}

export interface GgufInput {
  /** Key-value pairs, written in iteration order. */
  readonly metadata: Iterable<readonly [string, GgufEntry]>;
  readonly tensors: readonly GgufTensorInput[];
  /** Defaults to 32 (written as `general.alignment` only when different). */
  readonly alignment?: number;
}

const utf8 = new TextEncoder();

/**
 * Encodes a GGUF v3 file (the layout ggml's `gguf_write_to_file` produces: tensor data padded to
 * the alignment, in the order given). Throws RangeError/TypeError for inconsistent input.
 */
export function encodeGguf(input: GgufInput): Uint8Array {
  const alignment = input.alignment ?? 32;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0)
    throw new RangeError(`alignment ${alignment} is not a power of two`);
  const entries = [...input.metadata];
  if (alignment !== 32 && !entries.some(([k]) => k === "general.alignment")) {
    entries.push(["general.alignment", { type: GgufValueType.UINT32, value: alignment }]);
  }
  const out = new ByteWriter();
  out.bytes(utf8.encode("GGUF"));
  out.u32(3);
  out.u64(input.tensors.length);
  out.u64(entries.length);
  for (const [key, entry] of entries) {
    out.string(key);
    out.u32(entry.type);
    if (entry.type === GgufValueType.ARRAY) {
      const elementType = entry.elementType;
      if (elementType === undefined || elementType === GgufValueType.ARRAY)
        throw new TypeError(`"${key}": an ARRAY entry needs a non-array elementType`);
      const values = entry.value as ArrayLike<unknown>;
      out.u32(elementType);
      out.u64(values.length);
      for (let i = 0; i < values.length; i++) out.value(elementType, values[i], key);
    } else {
      out.value(entry.type, entry.value, key);
    }
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of input.tensors) {
    const traits = ggmlTypeTraits(t.type);
    if (!traits) throw new RangeError(`tensor "${t.name}": unknown GGML type ${t.type}`);
    const elements = t.dims.reduce((a, b) => a * b, 1);
    const expected = (elements / traits.blockSize) * traits.typeSize;
    if ((t.dims[0] ?? 1) % traits.blockSize !== 0 || t.data.length !== expected) {
      throw new RangeError(
        `tensor "${t.name}" (${ggmlTypeName(t.type)}, shape ${t.dims.join("×")}) needs ${expected} bytes, got ${t.data.length}`,
      );
    }
    out.string(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(t.type);
    out.u64(offset);
    offsets.push(offset);
    offset += Math.ceil(t.data.length / alignment) * alignment;
  }
  if (input.tensors.length > 0) out.padTo(alignment);
  const dataStart = out.length;
  input.tensors.forEach((t, i) => {
    out.padTo(alignment, dataStart + offsets[i]!);
    out.bytes(t.data);
  });
  if (input.tensors.length > 0) out.padTo(alignment, dataStart + offset);
  return out.finish();
}

class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  // reserve() may replace buf/view, so it runs before they are read.
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }
  u64(v: number): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(v), true);
  }
  string(s: string): void {
    const b = utf8.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  /** Zero bytes up to the next multiple of `alignment` (or up to `target`). */
  padTo(alignment: number, target = Math.ceil(this.length / alignment) * alignment): void {
    this.reserve(target - this.length);
  }

  value(type: GgufValueType, v: unknown, key: string): void {
    const bad = () => new TypeError(`"${key}": ${String(v)} is not a valid ${ggufValueTypeName(type)}`);
    if (type === GgufValueType.STRING) {
      if (typeof v !== "string") throw bad();
      this.string(v);
      return;
    }
    const size = FIXED_VALUE_SIZE[type];
    if (size === undefined) throw bad();
    const at = this.reserve(size);
    const d = this.view;
    if (type === GgufValueType.UINT64 || type === GgufValueType.INT64) {
      if (typeof v !== "bigint" && !Number.isInteger(v)) throw bad();
      const big = BigInt(v as bigint | number);
      if (type === GgufValueType.UINT64) d.setBigUint64(at, big, true);
      else d.setBigInt64(at, big, true);
      return;
    }
    if (type === GgufValueType.BOOL) {
      if (typeof v !== "boolean") throw bad();
      d.setUint8(at, v ? 1 : 0);
      return;
    }
    if (typeof v !== "number") throw bad();
    switch (type) {
      case GgufValueType.UINT8:
        d.setUint8(at, v);
        break;
      case GgufValueType.INT8:
        d.setInt8(at, v);
        break;
      case GgufValueType.UINT16:
        d.setUint16(at, v, true);
        break;
      case GgufValueType.INT16:
        d.setInt16(at, v, true);
        break;
      case GgufValueType.UINT32:
        d.setUint32(at, v, true);
        break;
      case GgufValueType.INT32:
        d.setInt32(at, v, true);
        break;
      case GgufValueType.FLOAT32:
        d.setFloat32(at, v, true);
        break;
      default:
        d.setFloat64(at, v, true);
    }
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
