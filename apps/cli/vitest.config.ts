import { defineEmosteerProject } from "../../vitest.shared.ts";

/** Model-free files: the "cli:unit" project (vitest.unit.config.ts); the "cli" project runs the rest. */
export const UNIT_TESTS = ["test/readme-commands.test.ts", "test/data-fetch.test.ts"];

export default defineEmosteerProject("cli", { unit: UNIT_TESTS });
