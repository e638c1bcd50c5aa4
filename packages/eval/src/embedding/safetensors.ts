import { InvalidFileError } from "@emosteer/core";

/** Float32 tensors of a safetensors file by name (other dtypes are skipped). */
export function readSafetensors(bytes: Buffer, path: string): Map<string, { shape: number[]; data: Float32Array }> {
  if (bytes.length < 8) throw new InvalidFileError(path, "too short for a safetensors file");
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (8 + headerLength > bytes.length) throw new InvalidFileError(path, `header length ${headerLength} exceeds the file`, 0);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(bytes.toString("utf8", 8, 8 + headerLength));
  } catch {
    throw new InvalidFileError(path, "safetensors header is not JSON", 8);
  }
  const base = 8 + headerLength;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__" || info.dtype !== "F32") continue;
    const [from, to] = info.data_offsets;
    const expected = 4 * info.shape.reduce((a, b) => a * b, 1);
    if (to - from !== expected || base + to > bytes.length)
      throw new InvalidFileError(path, `tensor ${name} has ${to - from} bytes, expected ${expected}`, base + from);
    // Copy: the tensor's offset in the file need not be 4-byte aligned.
    const data = new Float32Array(expected / 4);
    new Uint8Array(data.buffer).set(bytes.subarray(base + from, base + to));
    tensors.set(name, { shape: info.shape, data });
  }
  return tensors;
}
