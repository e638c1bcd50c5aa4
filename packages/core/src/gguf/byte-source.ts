/**
 * Random access to the bytes of a file, wherever they live (memory, a browser `Blob`, a local file
 * through `@emosteer/core/node`'s `fileByteSource`). The GGUF reader only ever asks for byte ranges
 * inside `[0, size)`, so a multi-GB model is never loaded whole.
 */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** What to call the file in error messages (a path or a label). */
  readonly name: string;
  /** Resolves to exactly `length` bytes starting at `offset` (`offset + length <= size`). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A {@link ByteSource} over bytes already in memory (no copy). */
export function bytesByteSource(bytes: Uint8Array, name = "<bytes>"): ByteSource {
  return {
    size: bytes.length,
    name,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
  };
}

/** The part of a browser `Blob`/`File` that {@link blobByteSource} uses. */
export interface BlobLike {
  readonly size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

/** A {@link ByteSource} over a browser `Blob` or `File`, read range by range. */
export function blobByteSource(blob: BlobLike, name = "<blob>"): ByteSource {
  return {
    size: blob.size,
    name,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}
