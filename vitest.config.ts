import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*"],
    // Packages run one after another: the machine has 2 cores and the model tests are heavy.
    fileParallelism: false,
    reporters: ["default", "./scripts/summary-reporter.ts"],
  },
});
