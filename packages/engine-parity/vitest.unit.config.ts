import { defineEmosteerUnitProject } from "../../vitest.shared.ts";
import { UNIT_TESTS } from "./vitest.config.ts";

export default defineEmosteerUnitProject("engine-parity", UNIT_TESTS);
