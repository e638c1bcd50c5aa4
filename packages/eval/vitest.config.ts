import { defineEmosteerProject } from "../../vitest.shared.ts";

/** Model-free files: the "eval:unit" project (vitest.unit.config.ts); the "eval" project runs the rest. */
export const UNIT_TESTS = ["test/fluency.test.ts", "test/metrics.test.ts"];

export default defineEmosteerProject("eval", { unit: UNIT_TESTS });
