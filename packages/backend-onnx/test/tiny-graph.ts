import { writeFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** Writes `<dir>/model.onnx`: logits = Identity(input), with no `steering` input. */
export function writeTinyGraphWithoutSteering(dir: string): void {
  const tensor = (name: string) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: "n" }] } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "no-steering",
      node: [{ opType: "Identity", input: ["input_ids"], output: ["logits"] }],
      input: [tensor("input_ids")],
      output: [tensor("logits")],
    },
  });
  writeFileSync(join(dir, "model.onnx"), onnx.ModelProto.encode(model).finish());
}
