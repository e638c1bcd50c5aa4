import { defineProject } from "vitest/config";

/** Test settings shared by every package: resolve workspace packages to their TypeScript sources. */
export function defineEmosteerProject(name: string, extra: { setupFiles?: string[]; globalSetup?: string[] } = {}) {
  return defineProject({
    resolve: { conditions: ["@emosteer/source"] },
    ssr: { resolve: { conditions: ["@emosteer/source"] } },
    test: {
      name,
      include: ["test/**/*.test.ts", "src/**/*.test.ts"],
      testTimeout: 120_000,
      hookTimeout: 900_000,
      ...extra,
    },
  });
}
