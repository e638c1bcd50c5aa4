import type { EmotionVector } from "../emotion-vector.js";
import { decodeVectorFile, encodeVectorFile, type DecodeVectorFileOptions } from "../vector-file.js";
import { writeFileAtomic } from "./atomic-write.js";
import { fileByteSource } from "./file-byte-source.js";

/** Writes an EV file (a llama.cpp control vector) atomically. */
export async function saveVectorFile(path: string, vector: EmotionVector): Promise<void> {
  await writeFileAtomic(path, encodeVectorFile(vector));
}

/**
 * Reads an EV file (ours, or a foreign control vector given `expectedModel` and `emotion`); see
 * {@link decodeVectorFile} for the checks. Only the header of a wrong (e.g. model) file is read.
 */
export async function loadVectorFile(path: string, options: Omit<DecodeVectorFileOptions, "name"> = {}): Promise<EmotionVector> {
  const source = await fileByteSource(path);
  try {
    return await decodeVectorFile(source, options);
  } finally {
    await source.dispose();
  }
}
