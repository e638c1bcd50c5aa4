import { defineEmosteerProject } from "../../vitest.shared.ts";

/** Model-free files: the "calibrate:unit" project (vitest.unit.config.ts); the "calibrate" project runs the rest. */
export const UNIT_TESTS = ["test/candidates.test.ts", "test/search.test.ts", "test/point-cache.test.ts"];

export default defineEmosteerProject("calibrate", { unit: UNIT_TESTS });
