import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * A model folder like a stock transformers.js export: same config and tokenizer as `fromDir`, but
 * an ONNX graph with no `steering` input (logits = input_ids through an Identity node). The graph is
 * protobuf-encoded here by hand so that this package needs no ONNX library.
 */
export async function writeUnsteerableModel(fromDir: string, toDir: string): Promise<void> {
  await mkdir(join(toDir, "onnx"), { recursive: true });
  for (const file of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]) {
    await copyFile(join(fromDir, file), join(toDir, file));
  }
  const config = JSON.parse(await readFile(join(fromDir, "config.json"), "utf8")) as Record<string, unknown>;
  // No external data: the graph has no weights.
  config["transformers.js_config"] = { dtype: "fp32", use_external_data_format: false };
  await writeFile(join(toDir, "config.json"), JSON.stringify(config));
  await writeFile(join(toDir, "onnx", "model.onnx"), identityModel());
}

const INT64 = 7;

function identityModel(): Uint8Array {
  const tensorValue = (name: string) =>
    message([
      string(1, name),
      field(2, message([field(1, message([varint(1, INT64), field(2, message([dimParam("batch_size"), dimParam("sequence_length")]))]))])),
    ]);
  const graph = message([
    field(1, message([string(1, "input_ids"), string(2, "logits"), string(3, "identity"), string(4, "Identity")])),
    string(2, "unsteerable"),
    field(11, tensorValue("input_ids")),
    field(12, tensorValue("logits")),
  ]);
  return message([varint(1, 8), string(2, "emosteer-test"), field(7, graph), field(8, message([string(1, ""), varint(2, 17)]))]);
}

function dimParam(name: string): Uint8Array {
  return field(1, message([string(2, name)]));
}

function varintBytes(value: number): number[] {
  const out: number[] = [];
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.push(value);
  return out;
}

function varint(fieldNumber: number, value: number): Uint8Array {
  return Uint8Array.from([...varintBytes(fieldNumber << 3), ...varintBytes(value)]);
}

function field(fieldNumber: number, payload: Uint8Array): Uint8Array {
  return Uint8Array.from([...varintBytes((fieldNumber << 3) | 2), ...varintBytes(payload.length), ...payload]);
}

function string(fieldNumber: number, value: string): Uint8Array {
  return field(fieldNumber, new TextEncoder().encode(value));
}

function message(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
