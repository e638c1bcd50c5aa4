import { defineEmosteerProject } from "../../vitest.shared.ts";

/** Model-free files: the "backend-onnx:unit" project (vitest.unit.config.ts); the "backend-onnx" project runs the rest. */
export const UNIT_TESTS = ["test/batch-kv.test.ts", "test/capture-batch.test.ts"];

export default defineEmosteerProject("backend-onnx", { unit: UNIT_TESTS });
