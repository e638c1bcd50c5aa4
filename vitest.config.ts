import { defineConfig } from "vitest/config";
import { WORKSPACE_RUN } from "./vitest.shared.ts";

// Read by every package's vitest.config.ts as it loads (see vitest.shared.ts).
process.env[WORKSPACE_RUN] = "1";

export default defineConfig({
  test: {
    // Each package's vitest.config.ts is "<pkg>"; vitest.unit.config.ts, where a package has one, is
    // "<pkg>:unit", its model-free files (pnpm test:unit), which "<pkg>" leaves out.
    projects: ["packages/*", "apps/*", "packages/*/vitest.unit.config.ts", "apps/*/vitest.unit.config.ts"],
    // Packages run one after another: the machine has 2 cores and the model tests are heavy.
    fileParallelism: false,
    reporters: ["default", "./scripts/summary-reporter.ts"],
  },
});
