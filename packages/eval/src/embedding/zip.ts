import { inflateRawSync } from "node:zlib";
import { InvalidFileError } from "@emosteer/core";

/** Extract every file entry of a zip archive (stored or deflated) via its central directory. */
export function readZip(bytes: Buffer, path: string): Map<string, Buffer> {
  const bad = (reason: string, offset?: number) => new InvalidFileError(path, `not a readable zip: ${reason}`, offset);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65_535); i--) {
    if (bytes.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad("no end-of-central-directory record");
  const count = bytes.readUInt16LE(eocd + 10);
  let p = bytes.readUInt32LE(eocd + 16);
  const files = new Map<string, Buffer>();
  for (let e = 0; e < count; e++) {
    if (bytes.readUInt32LE(p) !== 0x02014b50) throw bad("broken central directory", p);
    const method = bytes.readUInt16LE(p + 10);
    const compressedSize = bytes.readUInt32LE(p + 20);
    const size = bytes.readUInt32LE(p + 24);
    const nameLength = bytes.readUInt16LE(p + 28);
    const extraLength = bytes.readUInt16LE(p + 30);
    const commentLength = bytes.readUInt16LE(p + 32);
    const localOffset = bytes.readUInt32LE(p + 42);
    const name = bytes.toString("utf8", p + 46, p + 46 + nameLength);
    p += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith("/")) continue;
    if (bytes.readUInt32LE(localOffset) !== 0x04034b50) throw bad(`bad local header for ${name}`, localOffset);
    const start = localOffset + 30 + bytes.readUInt16LE(localOffset + 26) + bytes.readUInt16LE(localOffset + 28);
    const raw = bytes.subarray(start, start + compressedSize);
    const data = method === 0 ? Buffer.from(raw) : method === 8 ? inflateRawSync(raw) : null;
    if (!data) throw bad(`${name} uses unsupported compression method ${method}`);
    if (data.length !== size) throw bad(`${name} inflated to ${data.length} bytes, expected ${size}`);
    files.set(name, data);
  }
  return files;
}
