import { writeFile } from "node:fs/promises";

/**
 * Minimal llama.cpp control-vector GGUF writer (GGUF v3, one F32 tensor "direction.<layer>" per
 * non-zero layer, as llama-cvector-generator writes them).
 * TODO(core): replace with core's vector-file encoder once it lands.
 */
export async function writeControlVectorGguf(path: string, architecture: string, directions: readonly Float32Array[]): Promise<void> {
  const ALIGN = 32;
  const parts: Buffer[] = [];
  const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
  const u64 = (v: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
  const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
  const layers = directions.map((d, layer) => ({ d, layer })).filter(({ d, layer }) => layer > 0 && d.some((x) => x !== 0));
  parts.push(Buffer.from("GGUF"), u32(3), u64(layers.length), u64(3));
  parts.push(str("general.architecture"), u32(8), str("controlvector"));
  parts.push(str("controlvector.model_hint"), u32(8), str(architecture));
  parts.push(str("controlvector.layer_count"), u32(5), u32(layers.length));
  let offset = 0;
  for (const { d, layer } of layers) {
    parts.push(str(`direction.${layer}`), u32(1), u64(d.length), u32(0 /* F32 */), u64(offset));
    offset += Math.ceil((d.length * 4) / ALIGN) * ALIGN;
  }
  const header = Buffer.concat(parts);
  const out: Buffer[] = [header, Buffer.alloc((ALIGN - (header.length % ALIGN)) % ALIGN)];
  for (const { d } of layers) {
    const bytes = Buffer.from(d.buffer as ArrayBuffer, d.byteOffset, d.byteLength);
    out.push(bytes, Buffer.alloc((ALIGN - (bytes.length % ALIGN)) % ALIGN));
  }
  await writeFile(path, Buffer.concat(out));
}
