import { defineEmosteerProject } from "../../vitest.shared.ts";

const project = defineEmosteerProject("backend-llamacpp", { globalSetup: ["./test/global-setup.ts"] });

// A GPU build run on Mesa's lavapipe (Vulkan on the CPU) is several times slower than the CPU build:
// EMOSTEER_TEST_TIMEOUT_FACTOR (e.g. 5) scales the test timeout for such a run only; CI leaves it unset.
const factor = Number(process.env.EMOSTEER_TEST_TIMEOUT_FACTOR ?? "1");
if (!Number.isFinite(factor) || factor < 1)
  throw new Error(`EMOSTEER_TEST_TIMEOUT_FACTOR must be a number ≥ 1, got "${process.env.EMOSTEER_TEST_TIMEOUT_FACTOR}".`);
if (project.test?.testTimeout !== undefined) project.test.testTimeout *= factor;

export default project;
