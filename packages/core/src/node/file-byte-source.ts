import { open } from "node:fs/promises";
import { DisposedError } from "../errors.js";
import type { ByteSource } from "../gguf/byte-source.js";

/** A {@link ByteSource} over a local file (positional reads, nothing loaded up front). */
export interface FileByteSource extends ByteSource {
  /** Closes the file; idempotent. Reads after it throw {@link DisposedError}. */
  dispose(): Promise<void>;
}

/** Opens `path` for random-access reads. Call `dispose()` when done. */
export async function fileByteSource(path: string): Promise<FileByteSource> {
  const handle = await open(path, "r");
  let size: number;
  try {
    size = (await handle.stat()).size;
  } catch (error) {
    await handle.close();
    throw error;
  }
  let closed: Promise<void> | undefined;
  return {
    size,
    name: path,
    async read(offset, length) {
      if (closed) throw new DisposedError(`File source ${path}`);
      const bytes = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(bytes, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === length ? bytes : bytes.subarray(0, done);
    },
    dispose() {
      closed ??= handle.close();
      return closed;
    },
  };
}
