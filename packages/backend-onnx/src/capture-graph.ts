import { GRAPH_IO } from "@emosteer/onnx-export";

/**
 * The capture graph: the exported model without its `logits` output and every node only that
 * output needs (the final norm and the LM head), same inputs, same hidden-state and KV outputs.
 * onnxruntime runs every node of a graph whatever a run fetches, so a capture on the full graph
 * pays for `tokens × vocabulary` logits it drops (on SmolLM2 the head is a fifth of the matmul
 * work). The weights stay in the export's external data file, which the derived graph references
 * by the same relative path, so it must sit next to `model.onnx`.
 *
 * Works on the protobuf bytes directly (ModelProto → GraphProto fields, everything else copied
 * verbatim). Returns null when the graph has no `logits` output, holds subgraphs, or is not
 * topologically sorted: the caller then captures on the full graph.
 */
export function captureGraphOf(model: Uint8Array): Uint8Array | null {
  const modelFields = fieldsOf(model, 0, model.length);
  const graphField = modelFields.find((f) => f.number === MODEL_GRAPH);
  if (!graphField) return null;
  const graphFields = fieldsOf(model, graphField.start, graphField.end);
  const outputs = graphFields.filter((f) => f.number === GRAPH_OUTPUT).map((f) => ({ field: f, name: stringField(model, f, 1) }));
  if (!outputs.some((o) => o.name === GRAPH_IO.logits)) return null;
  const nodes = graphFields.filter((f) => f.number === GRAPH_NODE).map((f) => nodeOf(model, f));
  if (nodes.some((n) => n.hasSubgraph)) return null;

  // Backwards from the kept outputs over the nodes in reverse topological order.
  const needed = new Set(outputs.filter((o) => o.name !== GRAPH_IO.logits).map((o) => o.name));
  const kept = new Set<Field>();
  for (const node of [...nodes].reverse()) {
    if (!node.outputs.some((o) => needed.has(o))) continue;
    kept.add(node.field);
    for (const input of node.inputs) needed.add(input);
  }
  const initializers = graphFields.filter((f) => f.number === GRAPH_INITIALIZER);
  const available = new Set([
    "",
    ...initializers.map((f) => stringField(model, f, 8)),
    ...graphFields.filter((f) => f.number === GRAPH_INPUT).map((f) => stringField(model, f, 1)),
  ]);
  // A kept node must read only graph inputs, initializers and earlier kept nodes' outputs (else the order was not topological).
  for (const node of nodes) {
    if (!kept.has(node.field)) continue;
    if (node.inputs.some((i) => !available.has(i))) return null;
    for (const o of node.outputs) available.add(o);
  }
  const dropped = new Set<Field>([
    ...nodes.filter((n) => !kept.has(n.field)).map((n) => n.field),
    ...outputs.filter((o) => o.name === GRAPH_IO.logits).map((o) => o.field),
    ...initializers.filter((f) => !needed.has(stringField(model, f, 8))),
  ]);
  const graph = concat(graphFields.filter((f) => !dropped.has(f)).map((f) => model.subarray(f.keyStart, f.end)));
  return concat(
    modelFields.map((f) =>
      f === graphField ? concat([varint((MODEL_GRAPH << 3) | LEN), varint(graph.length), graph]) : model.subarray(f.keyStart, f.end),
    ),
  );
}

// Field numbers of onnx.proto.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE_GRAPH = 6;
const ATTRIBUTE_GRAPHS = 11;
const LEN = 2;

/** One field of a message: its key at `keyStart`, its payload (length-delimited) at `start..end`. */
interface Field {
  readonly number: number;
  readonly wireType: number;
  readonly keyStart: number;
  readonly start: number;
  readonly end: number;
}

function fieldsOf(bytes: Uint8Array, from: number, to: number): Field[] {
  const fields: Field[] = [];
  let at = from;
  while (at < to) {
    const keyStart = at;
    const [key, afterKey] = readVarint(bytes, at);
    const number = Math.floor(key / 8);
    const wireType = key % 8;
    let start = afterKey;
    let end: number;
    if (wireType === 0) end = readVarint(bytes, afterKey)[1];
    else if (wireType === 1) end = afterKey + 8;
    else if (wireType === 5) end = afterKey + 4;
    else if (wireType === LEN) {
      const [length, afterLength] = readVarint(bytes, afterKey);
      start = afterLength;
      end = afterLength + length;
    } else throw new RangeError(`ONNX model: protobuf wire type ${wireType} at byte ${keyStart} is not one onnx.proto uses.`);
    if (end > to) throw new RangeError(`ONNX model: field ${number} at byte ${keyStart} runs past its message: the file is truncated.`);
    fields.push({ number, wireType, keyStart, start, end });
    at = end;
  }
  return fields;
}

function nodeOf(bytes: Uint8Array, field: Field) {
  const fields = fieldsOf(bytes, field.start, field.end);
  const text = (f: Field) => decoder.decode(bytes.subarray(f.start, f.end));
  return {
    field,
    inputs: fields.filter((f) => f.number === NODE_INPUT).map(text),
    outputs: fields.filter((f) => f.number === NODE_OUTPUT).map(text),
    hasSubgraph: fields
      .filter((f) => f.number === NODE_ATTRIBUTE)
      .some((a) => fieldsOf(bytes, a.start, a.end).some((f) => f.number === ATTRIBUTE_GRAPH || f.number === ATTRIBUTE_GRAPHS)),
  };
}

/** The string field `number` of the message in `field` ("" when absent). */
function stringField(bytes: Uint8Array, field: Field, number: number): string {
  const f = fieldsOf(bytes, field.start, field.end).find((x) => x.number === number && x.wireType === LEN);
  return f ? decoder.decode(bytes.subarray(f.start, f.end)) : "";
}

const decoder = new TextDecoder();

function readVarint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length; i++) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, i + 1];
    scale *= 128;
  }
  throw new RangeError(`ONNX model: a protobuf varint at byte ${at} does not end: the file is truncated.`);
}

function varint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
