/**
 * GGUF reader: header, metadata, tensor infos and tensor data of a GGUF v2/v3 file, over any
 * {@link ByteSource} (browser-safe; node's file source is in `@emosteer/core/node`).
 *
 * @example
 * import { fileByteSource } from "@emosteer/core/node";
 * import { openGguf } from "@emosteer/core";
 *
 * const source = await fileByteSource("SmolLM2-135M-Instruct.Q4_1.gguf");
 * try {
 *   const gguf = await openGguf(source);
 *   gguf.get("general.architecture");                      // "llama"
 *   const w = await gguf.readTensor("blk.0.attn_q.weight"); // Float32Array, dequantized
 * } finally {
 *   await source.dispose();
 * }
 *
 * Why not `@huggingface/gguf`: it takes a URL or path rather than a byte source (so it cannot parse
 * an in-memory vector file or a browser `File`), caps counts with fixed constants instead of the
 * bytes actually left in the file, throws plain `Error`s without offsets, reads no tensor data, and
 * pulls in `@huggingface/tasks`. The format is small; this reader follows ggml's own `gguf.cpp`
 * checks and bounds every count and length by the remaining file size before allocating.
 */
import { AbortedError, InvalidFileError } from "../errors.js";
import type { ByteSource } from "./byte-source.js";
import { dequantize } from "./dequantize.js";
import { ggmlTypeName, ggmlTypeTraits, type GgmlType } from "./ggml-type.js";
import { FIXED_VALUE_SIZE, GgufValueType, ggufValueTypeName, type GgufArrayValue, type GgufEntry, type GgufValue } from "./gguf-value.js";

/** Where one tensor lives and what it holds. */
export interface GgufTensorInfo {
  readonly name: string;
  /** GGML order: `dims[0]` is the innermost (row) length. */
  readonly dims: readonly number[];
  readonly type: GgmlType;
  /** Offset of the data from {@link GgufFile.dataOffset}. */
  readonly offset: number;
  readonly elementCount: number;
  readonly byteLength: number;
}

export interface OpenGgufOptions {
  signal?: AbortSignal;
}

/** A parsed GGUF file; tensor data is read on demand from its {@link ByteSource}. */
export class GgufFile {
  /** Tensor infos by name. */
  private readonly byName: ReadonlyMap<string, GgufTensorInfo>;

  constructor(
    readonly source: ByteSource,
    /** 2 or 3. */
    readonly version: number,
    readonly metadata: ReadonlyMap<string, GgufEntry>,
    readonly tensors: readonly GgufTensorInfo[],
    readonly alignment: number,
    /** Absolute offset of the tensor data section. */
    readonly dataOffset: number,
  ) {
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }

  /** The value of a metadata key, or `undefined` when absent. */
  get(key: string): GgufValue | undefined {
    return this.metadata.get(key)?.value;
  }

  /** The info of a tensor, or `undefined` when the file has none of that name. */
  tensor(name: string): GgufTensorInfo | undefined {
    return this.byName.get(name);
  }

  /** The raw bytes of a tensor as stored (quantized). */
  async readTensorBytes(tensor: string | GgufTensorInfo): Promise<Uint8Array> {
    const info = this.resolve(tensor);
    return readExactly(this.source, this.dataOffset + info.offset, info.byteLength);
  }

  /** A tensor dequantized to float32, in GGML order (`dims[0]` fastest). */
  async readTensor(tensor: string | GgufTensorInfo): Promise<Float32Array> {
    const info = this.resolve(tensor);
    return dequantize(await this.readTensorBytes(info), info.type, info.elementCount);
  }

  private resolve(tensor: string | GgufTensorInfo): GgufTensorInfo {
    if (typeof tensor !== "string") return tensor;
    const info = this.byName.get(tensor);
    if (!info)
      throw new RangeError(
        `${this.source.name}: no tensor named "${tensor}" (the file has ${this.tensors.length} tensors, e.g. "${this.tensors[0]?.name ?? ""}").`,
      );
    return info;
  }
}

const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian uint32
const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4; // GGML_MAX_DIMS
const MAX_TENSOR_NAME = 63; // GGML_MAX_NAME - 1
const CHUNK = 1 << 20;
// Smallest encodings, used to bound counts by the bytes left: a key-value pair is a length (8), a
// non-empty key (1), a type (4) and at least one value byte; a tensor info is a length (8), a
// non-empty name (1), n_dims (4), a type (4) and an offset (8).
const MIN_KV_BYTES = 14;
const MIN_TENSOR_INFO_BYTES = 25;
// Caps far above any real file (the largest vocabularies have ~262k tokens, chat templates a few
// KB), so that a corrupt length in a multi-GB model cannot make us allocate gigabytes.
const MAX_KEY_BYTES = 1 << 16;
const MAX_STRING_BYTES = 32 << 20;
const MAX_ARRAY_LENGTH = 1 << 24;

/**
 * Parses the header, metadata and tensor infos of a GGUF file and checks that every tensor lies
 * inside the file. Throws {@link InvalidFileError} (naming the byte offset) for anything malformed.
 */
export async function openGguf(source: ByteSource, options: OpenGgufOptions = {}): Promise<GgufFile> {
  assertLittleEndianHost();
  const r = new Cursor(source, options.signal);
  if (source.size < 4) throw r.invalid(`not a GGUF file: only ${source.size} bytes long`, 0);
  await r.ensure(4, "the header");
  const magic = r.u32();
  if (magic !== GGUF_MAGIC) {
    const shown = [0, 1, 2, 3].map((i) => ((magic >>> (8 * i)) & 0xff).toString(16).padStart(2, "0")).join(" ");
    throw r.invalid(`not a GGUF file: starts with bytes ${shown}, expected "GGUF"`, 0);
  }
  await r.ensure(20, "the header");
  const version = r.u32();
  if ((version & 0xffff) === 0)
    throw r.invalid(
      `GGUF version ${version} looks byte-swapped: big-endian GGUF files are not supported; convert the model again on a little-endian machine`,
      4,
    );
  if (version === 1) throw r.invalid("GGUF v1 is no longer supported: convert the model again with a current llama.cpp", 4);
  if (version !== 2 && version !== 3) throw r.invalid(`unsupported GGUF version ${version} (this reader knows v2 and v3)`, 4);

  const tensorCount = r.u64("tensor count");
  const kvCount = r.u64("metadata key count");
  if (kvCount * MIN_KV_BYTES + tensorCount * MIN_TENSOR_INFO_BYTES > r.remaining) {
    throw r.invalid(
      `header claims ${kvCount} metadata keys and ${tensorCount} tensors, more than the ${r.remaining} bytes left can hold; the file is corrupt or truncated`,
      8,
    );
  }

  const metadata = new Map<string, GgufEntry>();
  for (let i = 0; i < kvCount; i++) {
    const at = r.pos;
    const key = await r.string(`metadata key #${i}`, MAX_KEY_BYTES);
    if (key.length === 0) throw r.invalid(`metadata key #${i} is empty`, at);
    if (metadata.has(key)) throw r.invalid(`duplicate metadata key "${key}"`, at);
    await r.ensure(4, `the type of "${key}"`);
    const typeAt = r.pos;
    const type = r.u32();
    if (type === GgufValueType.ARRAY) {
      await r.ensure(12, `the array header of "${key}"`);
      const elementType = r.u32();
      if (elementType === GgufValueType.ARRAY)
        throw r.invalid(`metadata "${key}" is a nested array, which GGUF readers (llama.cpp included) do not support`, typeAt + 4);
      if (!isValueType(elementType)) throw r.invalid(`metadata "${key}" is an array of unknown value type ${elementType}`, typeAt + 4);
      const count = r.u64(`the length of "${key}"`);
      metadata.set(key, { type, elementType, value: await r.array(elementType, count, key) });
    } else {
      if (!isValueType(type)) throw r.invalid(`metadata "${key}" has unknown value type ${type}`, typeAt);
      metadata.set(key, { type, value: await r.scalar(type, key) });
    }
  }

  let alignment = DEFAULT_ALIGNMENT;
  const alignmentEntry = metadata.get("general.alignment");
  if (alignmentEntry) {
    const a = alignmentEntry.value;
    if (alignmentEntry.type !== GgufValueType.UINT32 || typeof a !== "number") {
      throw r.invalid(`general.alignment must be a UINT32, got ${ggufValueTypeName(alignmentEntry.type)}`);
    }
    if (a === 0 || (a & (a - 1)) !== 0) throw r.invalid(`general.alignment is ${a}, not a power of two`);
    alignment = a;
  }

  const tensors: GgufTensorInfo[] = [];
  const infoOffsets: number[] = []; // where each tensor info starts, for error messages
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const at = r.pos;
    const name = await r.string(`the name of tensor #${i}`, MAX_TENSOR_NAME);
    if (name.length === 0) throw r.invalid(`tensor #${i} has an empty name`, at);
    if (names.has(name)) throw r.invalid(`duplicate tensor name "${name}"`, at);
    names.add(name);
    await r.ensure(4, `tensor "${name}"`);
    const nDims = r.u32();
    if (nDims > MAX_DIMS) throw r.invalid(`tensor "${name}" has ${nDims} dimensions, GGML allows at most ${MAX_DIMS}`, r.pos - 4);
    await r.ensure(8 * nDims + 12, `tensor "${name}"`);
    const dims: number[] = [];
    let elementCount = 1;
    for (let d = 0; d < nDims; d++) {
      const n = r.u64(`dimension ${d} of tensor "${name}"`);
      elementCount *= n;
      if (!Number.isSafeInteger(elementCount))
        throw r.invalid(`tensor "${name}" has too many elements (shape ${[...dims, n].join("×")}…)`, r.pos - 8);
      dims.push(n);
    }
    const typeAt = r.pos;
    const type = r.u32();
    const traits = ggmlTypeTraits(type);
    if (!traits) throw r.invalid(`tensor "${name}" has unknown GGML type ${type}`, typeAt);
    const rowLength = dims[0] ?? 1;
    if (rowLength % traits.blockSize !== 0) {
      throw r.invalid(
        `tensor "${name}" of type ${traits.name} has rows of ${rowLength} elements, not a multiple of its block size ${traits.blockSize}`,
        typeAt,
      );
    }
    const offset = r.u64(`the offset of tensor "${name}"`);
    if (offset % alignment !== 0)
      throw r.invalid(`tensor "${name}" starts at data offset ${offset}, not a multiple of the alignment ${alignment}`, r.pos - 8);
    const byteLength = (elementCount / traits.blockSize) * traits.typeSize;
    tensors.push({ name, dims, type: type as GgmlType, offset, elementCount, byteLength });
    infoOffsets.push(at);
  }

  const dataOffset = tensorCount > 0 ? Math.ceil(r.pos / alignment) * alignment : r.pos;
  for (const [i, t] of tensors.entries()) {
    const end = dataOffset + t.offset + t.byteLength;
    if (end > source.size) {
      throw r.invalid(
        `tensor "${t.name}" (${ggmlTypeName(t.type)}, ${t.byteLength} bytes) ends at byte ${end} but the file has only ${source.size} bytes: the file is truncated (incomplete download?) or corrupt`,
        infoOffsets[i],
      );
    }
  }
  return new GgufFile(source, version, metadata, tensors, alignment, dataOffset);
}

function isValueType(type: number): type is GgufValueType {
  return Number.isInteger(type) && type >= 0 && type <= GgufValueType.FLOAT64;
}

let hostChecked = false;
function assertLittleEndianHost(): void {
  if (hostChecked) return;
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error("emosteer's GGUF reader needs a little-endian host.");
  hostChecked = true;
}

async function readExactly(source: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  const bytes = await source.read(offset, length);
  if (bytes.length !== length) {
    throw new InvalidFileError(
      source.name,
      `asked for ${length} bytes, got ${bytes.length}: the file changed or shrank while being read`,
      offset,
    );
  }
  return bytes;
}

// ignoreBOM: keep a leading U+FEFF (some vocabularies have it as a token) instead of stripping it.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

const units: number[] = [];
/**
 * Decodes well-formed 1-3 byte UTF-8 (BMP) without TextDecoder, which costs more per call than a
 * token string takes to decode; returns undefined for anything else so TextDecoder handles it.
 */
function decodeShortUtf8(b: Uint8Array, start: number, end: number): string | undefined {
  units.length = 0;
  for (let k = start; k < end; ) {
    const c = b[k]!;
    if (c < 0x80) {
      units.push(c);
      k += 1;
    } else if (c >= 0xc2 && c < 0xe0 && k + 1 < end && (b[k + 1]! & 0xc0) === 0x80) {
      units.push(((c & 0x1f) << 6) | (b[k + 1]! & 0x3f));
      k += 2;
    } else if (c >= 0xe0 && c < 0xf0 && k + 2 < end && (b[k + 1]! & 0xc0) === 0x80 && (b[k + 2]! & 0xc0) === 0x80) {
      const u = ((c & 0x0f) << 12) | ((b[k + 1]! & 0x3f) << 6) | (b[k + 2]! & 0x3f);
      if (u < 0x800 || (u >= 0xd800 && u < 0xe000)) return undefined; // overlong or surrogate
      units.push(u);
      k += 3;
    } else {
      return undefined;
    }
  }
  return String.fromCharCode.apply(null, units);
}

/** Sequential reads through a window of the source, refilled one chunk at a time. */
class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;
  private bufEnd = 0;
  private chunk = 1 << 16;

  constructor(
    private readonly source: ByteSource,
    private readonly signal: AbortSignal | undefined,
  ) {}

  get remaining(): number {
    return this.source.size - this.pos;
  }

  invalid(reason: string, offset?: number): InvalidFileError {
    return new InvalidFileError(this.source.name, reason, offset);
  }

  has(n: number): boolean {
    return this.pos + n <= this.bufEnd;
  }

  /** Makes the next `n` bytes readable synchronously, or throws if the file ends first. */
  async ensure(n: number, what: string): Promise<void> {
    if (this.pos + n <= this.bufEnd) return;
    if (n > this.remaining) {
      throw this.invalid(
        `the file ends inside ${what}: ${n} bytes needed, ${this.remaining} left; the file is truncated (incomplete download?) or corrupt`,
        this.pos,
      );
    }
    if (this.signal?.aborted) throw new AbortedError(`Reading ${this.source.name}`);
    // Chunks grow from 64 KiB, so a small file (an EV file) costs one small read.
    const length = Math.min(Math.max(n, this.chunk), this.remaining);
    this.chunk = Math.min(this.chunk * 2, CHUNK);
    this.buf = await readExactly(this.source, this.pos, length);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.bufStart = this.pos;
    this.bufEnd = this.pos + length;
  }

  private at(n: number): number {
    const i = this.pos - this.bufStart;
    this.pos += n;
    return i;
  }

  u8(): number {
    return this.buf[this.at(1)]!;
  }
  u32(): number {
    return this.view.getUint32(this.at(4), true);
  }

  /** A uint64 that must fit a JS number exactly (counts, lengths, offsets). */
  u64(what: string): number {
    const at = this.pos;
    const i = this.at(8);
    const lo = this.view.getUint32(i, true);
    const hi = this.view.getUint32(i + 4, true);
    if (hi >= 0x200000) throw this.invalid(`${what} is ${this.view.getBigUint64(i, true)}, which no valid file has`, at);
    return hi * 0x100000000 + lo;
  }

  async string(what: string, maxBytes = MAX_STRING_BYTES): Promise<string> {
    if (!this.has(8)) await this.ensure(8, `the length of ${what}`);
    const length = this.u64(`the length of ${what}`);
    if (length > maxBytes)
      throw this.invalid(`${what} claims ${length} bytes, more than the ${maxBytes} this reader allows; the file is corrupt`, this.pos - 8);
    if (length > this.remaining)
      throw this.invalid(
        `${what} claims ${length} bytes but only ${this.remaining} are left; the file is corrupt or truncated`,
        this.pos - 8,
      );
    if (!this.has(length)) await this.ensure(length, what);
    return this.decode(length);
  }

  /** The next string if it is wholly buffered (and sane), else undefined without moving. */
  bufferedString(): string | undefined {
    const i = this.pos - this.bufStart;
    if (this.pos + 8 > this.bufEnd || this.view.getUint32(i + 4, true) !== 0) return undefined;
    const length = this.view.getUint32(i, true);
    if (this.pos + 8 + length > this.bufEnd) return undefined;
    this.pos += 8;
    return this.decode(length);
  }

  private decode(length: number): string {
    const i = this.at(length);
    return length <= 64
      ? (decodeShortUtf8(this.buf, i, i + length) ?? utf8.decode(this.buf.subarray(i, i + length)))
      : utf8.decode(this.buf.subarray(i, i + length));
  }

  async scalar(type: GgufValueType, key: string): Promise<GgufValue> {
    if (type === GgufValueType.STRING) return this.string(`the value of "${key}"`);
    const size = FIXED_VALUE_SIZE[type]!;
    if (!this.has(size)) await this.ensure(size, `the value of "${key}"`);
    const v = this.view;
    const i = this.at(size);
    switch (type) {
      case GgufValueType.UINT8:
        return v.getUint8(i);
      case GgufValueType.INT8:
        return v.getInt8(i);
      case GgufValueType.UINT16:
        return v.getUint16(i, true);
      case GgufValueType.INT16:
        return v.getInt16(i, true);
      case GgufValueType.UINT32:
        return v.getUint32(i, true);
      case GgufValueType.INT32:
        return v.getInt32(i, true);
      case GgufValueType.FLOAT32:
        return v.getFloat32(i, true);
      case GgufValueType.BOOL:
        return v.getUint8(i) !== 0;
      case GgufValueType.UINT64:
        return v.getBigUint64(i, true);
      case GgufValueType.INT64:
        return v.getBigInt64(i, true);
      default:
        return v.getFloat64(i, true);
    }
  }

  async array(type: GgufValueType, count: number, key: string): Promise<GgufArrayValue> {
    const countAt = this.pos - 8;
    if (count > MAX_ARRAY_LENGTH)
      throw this.invalid(
        `array "${key}" claims ${count} values, more than the ${MAX_ARRAY_LENGTH} this reader allows; the file is corrupt`,
        countAt,
      );
    if (type === GgufValueType.STRING) {
      // Each string needs at least its 8-byte length.
      if (count * 8 > this.remaining)
        throw this.invalid(`array "${key}" claims ${count} strings, more than the ${this.remaining} bytes left can hold`, countAt);
      // Grown as strings are read (not preallocated), so a corrupt count costs nothing up front.
      const out: string[] = [];
      // Awaiting per string costs a microtask each; take buffered strings synchronously.
      for (let k = 0; k < count; k++) out.push(this.bufferedString() ?? (await this.string(`"${key}"[${k}]`)));
      return out;
    }
    const size = FIXED_VALUE_SIZE[type]!;
    const byteLength = count * size;
    if (byteLength > this.remaining)
      throw this.invalid(`array "${key}" claims ${count} × ${size}-byte values, more than the ${this.remaining} bytes left`, countAt);
    let bytes: Uint8Array;
    if (byteLength <= CHUNK) {
      if (!this.has(byteLength)) await this.ensure(byteLength, `array "${key}"`);
      const i = this.at(byteLength);
      // A copy made through the Uint8Array constructor: a Node Buffer's slice() shares memory.
      bytes = new Uint8Array(this.buf.subarray(i, i + byteLength));
    } else {
      bytes = new Uint8Array(await readExactly(this.source, this.pos, byteLength));
      this.pos += byteLength;
    }
    const buffer = bytes.buffer;
    switch (type) {
      case GgufValueType.UINT8:
        return bytes;
      case GgufValueType.INT8:
        return new Int8Array(buffer);
      case GgufValueType.UINT16:
        return new Uint16Array(buffer);
      case GgufValueType.INT16:
        return new Int16Array(buffer);
      case GgufValueType.UINT32:
        return new Uint32Array(buffer);
      case GgufValueType.INT32:
        return new Int32Array(buffer);
      case GgufValueType.FLOAT32:
        return new Float32Array(buffer);
      case GgufValueType.BOOL:
        return Array.from(bytes, (b) => b !== 0);
      case GgufValueType.UINT64:
        return new BigUint64Array(buffer);
      case GgufValueType.INT64:
        return new BigInt64Array(buffer);
      default:
        return new Float64Array(buffer);
    }
  }
}
