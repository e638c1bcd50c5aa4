import { defineEmosteerProject } from "../../vitest.shared.ts";

/** Model-free files: the "engine-parity:unit" project (vitest.unit.config.ts); the "engine-parity" project runs the rest. */
export const UNIT_TESTS = ["test/family-evidence.test.ts"];

export default defineEmosteerProject("engine-parity", { globalSetup: ["./test/global-setup.ts"], unit: UNIT_TESTS });
