import { defineEmosteerProject } from "../../vitest.shared.ts";

/** Model-free files: the "bench:unit" project (vitest.unit.config.ts); the "bench" project runs the rest. */
export const UNIT_TESTS = [
  "test/archive.test.ts",
  "test/claims.test.ts",
  "test/corpus-comparison.test.ts",
  "test/options.test.ts",
  "test/store.test.ts",
  "test/suppression.test.ts",
  "test/vector-map.test.ts",
];

export default defineEmosteerProject("bench", { unit: UNIT_TESTS });
