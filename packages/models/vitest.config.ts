import { defineEmosteerProject } from "../../vitest.shared.ts";

/** Model-free files: the "models:unit" project (vitest.unit.config.ts); the "models" project runs the rest. */
export const UNIT_TESTS = ["test/hub-download.test.ts"];

export default defineEmosteerProject("models", { unit: UNIT_TESTS });
