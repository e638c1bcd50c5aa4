import { defineProject } from "vitest/config";

const ALL_TESTS = ["test/**/*.test.ts", "src/**/*.test.ts"];

/** Resolve workspace packages to their TypeScript sources. */
const sourceConditions = () => ({
  resolve: { conditions: ["@emosteer/source"] },
  ssr: { resolve: { conditions: ["@emosteer/source"] } },
});

/**
 * Set by the root vitest.config.ts, which also runs the `<name>:unit` projects: only then does a
 * package project leave its unit files to them. Run from a package folder (`npx vitest run
 * test/x.test.ts`), a package project runs all its files.
 */
export const WORKSPACE_RUN = "EMOSTEER_VITEST_WORKSPACE";

export interface EmosteerProjectOptions {
  readonly setupFiles?: string[];
  readonly globalSetup?: string[];
  /**
   * The package's model-free test files (no model, no network, no labelled data, no native tools
   * to build): pure math, files, parsers, options, report logic. They form the project
   * `<name>:unit` (`pnpm test:unit`, declared in the package's `vitest.unit.config.ts`) and are
   * left out of `<name>` when the root config runs both, so `pnpm test` runs every file once.
   */
  readonly unit?: readonly string[];
}

/** Test settings shared by every package: resolve workspace packages to their TypeScript sources. */
export function defineEmosteerProject(name: string, options: EmosteerProjectOptions = {}) {
  const { unit = [], ...extra } = options;
  return defineProject({
    ...sourceConditions(),
    test: {
      name,
      include: ALL_TESTS,
      exclude: ["**/node_modules/**", ...(process.env[WORKSPACE_RUN] ? unit : [])],
      testTimeout: 120_000,
      hookTimeout: 900_000,
      ...extra,
    },
  });
}

/**
 * The `<name>:unit` project: only the model-free files, without the package's global setup (which
 * builds tools or fetches models). The root `vitest.config.ts` finds it as `vitest.unit.config.ts`.
 */
export function defineEmosteerUnitProject(name: string, unit: readonly string[]) {
  return defineProject({
    ...sourceConditions(),
    test: {
      name: `${name}:unit`,
      include: [...unit],
      testTimeout: 30_000,
    },
  });
}
