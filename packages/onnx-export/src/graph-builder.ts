import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** Element types the exporter uses. */
export type ElementType = "float32" | "int64" | "uint8" | "int8" | "int32";

const DATA_TYPE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  uint8: onnx.TensorProto.DataType.UINT8,
  int8: onnx.TensorProto.DataType.INT8,
  int32: onnx.TensorProto.DataType.INT32,
};

/** A dimension: a fixed size or a symbolic name such as `"batch_size"`. */
export type Dim = number | string;

/** Numbers are INT attributes; floats are spelled `{ float: x }`. */
export type AttributeValue = number | string | readonly number[] | { readonly float: number } | { readonly floats: readonly number[] };

/** Microsoft contrib-op domain. */
export const MS_DOMAIN = "com.microsoft";

/** Offsets in the external data file are aligned so that onnxruntime can memory-map them. */
const DATA_ALIGNMENT = 64;
/** Initializers smaller than this stay inside model.onnx (constants, norms of tiny models). */
const INLINE_LIMIT = 1024;

/**
 * Accumulates an ONNX graph. Large initializers are appended to the external data file as soon as
 * they are added (so the exporter never holds every weight in memory); `encode()` then serialises
 * the graph itself.
 */
export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly names = new Map<string, number>();
  private readonly constants = new Map<string, string>();
  private dataFd: number | null;
  private dataOffset = 0;
  private usesMsDomain = false;

  /**
   * @param dataPath file that receives the external weights (created/truncated now).
   * @param dataLocation how model.onnx refers to it (a path relative to model.onnx).
   */
  constructor(
    dataPath: string,
    private readonly dataLocation: string,
  ) {
    this.dataFd = openSync(dataPath, "w");
  }

  /** A fresh value name starting with `base`. */
  fresh(base: string): string {
    const n = this.names.get(base) ?? 0;
    this.names.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  }

  input(name: string, type: ElementType, shape: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, type, shape));
    return name;
  }

  output(name: string, type: ElementType, shape: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, type, shape));
  }

  /** Adds a weight. Data of more than {@link INLINE_LIMIT} bytes goes to the external file. */
  initializer(
    name: string,
    type: ElementType,
    dims: readonly number[],
    data: Float32Array | BigInt64Array | Uint8Array | Int8Array | Int32Array,
  ): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length)
      throw new RangeError(`initializer ${name}: dims ${dims.join("x")} hold ${count} values, data has ${data.length}`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const tensor: onnxProto.onnx.ITensorProto = { name, dims: [...dims], dataType: DATA_TYPE[type] };
    if (bytes.byteLength <= INLINE_LIMIT) {
      tensor.rawData = Uint8Array.from(bytes);
    } else {
      if (this.dataFd === null) throw new Error("GraphBuilder: initializer added after encode()");
      const pad = (DATA_ALIGNMENT - (this.dataOffset % DATA_ALIGNMENT)) % DATA_ALIGNMENT;
      if (pad) {
        writeSync(this.dataFd, new Uint8Array(pad));
        this.dataOffset += pad;
      }
      let written = 0;
      while (written < bytes.byteLength) written += writeSync(this.dataFd, bytes, written);
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      tensor.externalData = [
        { key: "location", value: this.dataLocation },
        { key: "offset", value: String(this.dataOffset) },
        { key: "length", value: String(bytes.byteLength) },
      ];
      this.dataOffset += bytes.byteLength;
    }
    this.initializers.push(tensor);
    return name;
  }

  /** A small constant, deduplicated by value. */
  constInt64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant("int64", dims, values);
  }

  constFloat(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant("float32", dims, values);
  }

  private constant(type: "int64" | "float32", dims: readonly number[], values: readonly number[]): string {
    const key = `${type}:${dims.join("x")}:${values.join(",")}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const name = this.fresh(`const_${type === "int64" ? "i" : "f"}`);
    const data = type === "int64" ? BigInt64Array.from(values, (v) => BigInt(v)) : Float32Array.from(values);
    this.initializer(name, type, dims, data);
    this.constants.set(key, name);
    return name;
  }

  /**
   * Appends a node; returns its output names (`outputCount` of them, named after `base`).
   * Inputs may be `""` for an omitted optional input.
   */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
    options: { outputs?: readonly string[]; outputCount?: number; domain?: string; base?: string } = {},
  ): string[] {
    const outputs = options.outputs
      ? [...options.outputs]
      : Array.from({ length: options.outputCount ?? 1 }, () => this.fresh(options.base ?? opType.toLowerCase()));
    if (options.domain === MS_DOMAIN) this.usesMsDomain = true;
    this.nodes.push({
      opType,
      domain: options.domain ?? "",
      name: this.fresh(`n_${opType}`),
      input: [...inputs],
      output: outputs,
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return outputs;
  }

  /** The one-output form of {@link node}. */
  op(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
    options: { output?: string; domain?: string; base?: string } = {},
  ): string {
    return this.node(opType, inputs, attributes, {
      ...(options.output ? { outputs: [options.output] } : {}),
      ...(options.domain ? { domain: options.domain } : {}),
      ...(options.base ? { base: options.base } : {}),
    })[0]!;
  }

  /** Closes the external data file (fsynced) and returns the serialised model.onnx. */
  encode(graphName: string, opsetVersion: number): Uint8Array {
    if (this.dataFd !== null) {
      fsyncSync(this.dataFd);
      closeSync(this.dataFd);
      this.dataFd = null;
    }
    const opsetImport: onnxProto.onnx.IOperatorSetIdProto[] = [{ domain: "", version: opsetVersion }];
    if (this.usesMsDomain) opsetImport.push({ domain: MS_DOMAIN, version: 1 });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: "emosteer-onnx-export",
      producerVersion: "0.1.0",
      opsetImport,
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  /** Closes the data file without encoding (on failure). Idempotent. */
  abandon(): void {
    if (this.dataFd !== null) {
      closeSync(this.dataFd);
      this.dataFd = null;
    }
  }

  get externalBytes(): number {
    return this.dataOffset;
  }
}

function valueInfo(name: string, type: ElementType, shape: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[type],
        shape: { dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === "string") return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new TypeError(`attribute ${name}: ${value} is not an integer; spell floats { float: x }`);
    return { name, type: T.INT, i: value };
  }
  if ("float" in value) return { name, type: T.FLOAT, f: value.float };
  if ("floats" in value) return { name, type: T.FLOATS, floats: [...value.floats] };
  return { name, type: T.INTS, ints: [...(value as readonly number[])] };
}
