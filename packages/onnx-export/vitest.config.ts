import { defineEmosteerProject } from "../../vitest.shared.ts";

/** Model-free files: the "onnx-export:unit" project (vitest.unit.config.ts); the "onnx-export" project runs the rest. */
export const UNIT_TESTS = ["test/activation-rounding.test.ts", "test/folder-lock.test.ts", "test/quantize-4bit.test.ts"];

export default defineEmosteerProject("onnx-export", { unit: UNIT_TESTS });
