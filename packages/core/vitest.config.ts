import { defineEmosteerProject } from "../../vitest.shared.ts";

/** Model-free files: the "core:unit" project (vitest.unit.config.ts); the "core" project runs the rest. */
export const UNIT_TESTS = [
  "test/benchmark-files.test.ts",
  "test/byte-sources.test.ts",
  "test/corpus-hash.test.ts",
  "test/emotion-vector.test.ts",
  "test/extract-emotion-vectors.test.ts",
  "test/extraction.test.ts",
  "test/foreign-vector-file.test.ts",
  "test/fuzz-vector-file.test.ts",
  "test/padded-kv-cache.test.ts",
  "test/prompt-data.test.ts",
  "test/prompts.test.ts",
  "test/steerer.test.ts",
  "test/steering-profile.test.ts",
  "test/steering.test.ts",
  "test/token-sampler.test.ts",
  "test/worker-rpc.test.ts",
  "test/user-emotion.test.ts",
];

export default defineEmosteerProject("core", { unit: UNIT_TESTS });
