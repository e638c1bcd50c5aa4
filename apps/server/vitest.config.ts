import { defineEmosteerProject } from "../../vitest.shared.ts";

/** Model-free files: the "server:unit" project (vitest.unit.config.ts); the "server" project runs the rest. */
export const UNIT_TESTS = ["test/request-steering.test.ts", "test/scheduler.test.ts"];

export default defineEmosteerProject("server", { unit: UNIT_TESTS });
