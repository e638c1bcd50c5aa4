// Every publishable package, used as a stranger to this repo would: `pnpm pack` each one (its
// prepack compiles dist/), `npm install` the tarballs into a fresh project, and run the README's
// library example there with plain `node` (no TypeScript, no @emosteer/source condition) on each
// engine, on the real default model. The llama.cpp run must reuse the machine's addon build
// (EMOSTEER_SKIP_ADDON_BUILD=1 makes it refuse rather than build): a consumer with the same
// node-llama-cpp and patch shares the build this repo's postinstall made.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureAddon } from "../../../packages/backend-llamacpp/scripts/build-addon.mjs";

const run = promisify(execFile);
const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const example = readFileSync(join(repo, "apps", "cli", "examples", "steer.ts"), "utf8");

/** Workspace packages meant for npm: every packages/* and apps/* not marked private. */
function publishablePackages(): { name: string; dir: string }[] {
  const found: { name: string; dir: string }[] = [];
  for (const group of ["packages", "apps"]) {
    for (const entry of readdirSync(join(repo, group))) {
      const dir = join(repo, group, entry);
      let manifest: { name: string; private?: boolean };
      try {
        manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      } catch {
        continue;
      }
      if (!manifest.private) found.push({ name: manifest.name, dir });
    }
  }
  return found;
}

/** The README's library snippet: the ```ts block of its "## Library" section. */
function readmeLibrarySnippet(): string {
  const readme = readFileSync(join(repo, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Library"));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error("README.md has no ```ts block in its Library section");
  return match[1];
}

/** The example for one engine: the README's text, with the backend line the README gives for the others. */
function exampleFor(engine: string): string {
  const code = readmeLibrarySnippet();
  if (engine === "llama.cpp") return code;
  const swapped = code
    .replace(`import { createLlamaCppBackend } from "@emosteer/backend-llamacpp";`, `import { openBackend } from "@emosteer/backends";`)
    .replace("await createLlamaCppBackend({ modelPath: path })", `await openBackend(${JSON.stringify(engine)}, { modelPath: path })`);
  if (swapped.includes("createLlamaCppBackend")) throw new Error("the README example's backend lines changed: update exampleFor");
  return swapped;
}

let project: string;

beforeAll(async () => {
  // The machine's addon build (the root postinstall made it; a no-op then). The consumer must find it.
  await ensureAddon();
  project = mkdtempSync(join(tmpdir(), "emosteer-npm-"));
  const tarballs = join(project, "tarballs");
  mkdirSync(tarballs);
  const dependencies: Record<string, string> = {};
  for (const { name, dir } of publishablePackages()) {
    const { stdout } = await run("pnpm", ["pack", "--pack-destination", tarballs], { cwd: dir, maxBuffer: 16 << 20 });
    const tarball = stdout.trim().split("\n").pop()!.trim();
    dependencies[name] = `file:${tarball}`;
  }
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "emosteer-consumer", private: true, type: "module", dependencies }, null, 2),
  );
  // Dependencies come from the npm registry through the machine's shared npm cache. No install
  // scripts: the backends need none (onnxruntime-node's would fetch CUDA files; node-llama-cpp's
  // checks prebuilt binaries the llama.cpp backend never loads).
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts", "--loglevel=error"], {
    cwd: project,
    maxBuffer: 16 << 20,
  });
}, 900_000);

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe("the packages from npm tarballs, in a fresh project, with plain node", () => {
  it("the README's library example is apps/cli/examples/steer.ts", () => {
    expect(
      example
        .split("\n")
        .filter((line) => !line.startsWith("//") || line.startsWith("  //"))
        .join("\n")
        .trim(),
    ).toBe(readmeLibrarySnippet().trim());
  });

  it("every package's manifest points at built JavaScript", () => {
    for (const { name } of publishablePackages()) {
      const installed = JSON.parse(readFileSync(join(project, "node_modules", ...name.split("/"), "package.json"), "utf8"));
      for (const [subpath, target] of Object.entries<Record<string, string> | string>(installed.exports ?? {})) {
        const file = typeof target === "string" ? target : target.default;
        if (!file || file.includes("*")) continue;
        expect(() => readFileSync(join(project, "node_modules", ...name.split("/"), file)), `${name} ${subpath} → ${file}`).not.toThrow();
      }
    }
  });

  for (const engine of ["llama.cpp", "onnx", "transformers.js"]) {
    it(`runs the README example on ${engine}: the steered answer differs from the unsteered one`, async () => {
      const file = join(project, `example-${engine.replace(/\W/g, "")}.mjs`);
      writeFileSync(file, exampleFor(engine));
      const { stdout } = await run(process.execPath, [file], {
        cwd: project,
        env: { ...process.env, EMOSTEER_SKIP_ADDON_BUILD: "1", NODE_OPTIONS: "" },
        maxBuffer: 16 << 20,
        timeout: 840_000,
      }).catch((err: Error & { stderr?: string; signal?: string }) => {
        throw new Error(`node ${file} failed (${err.signal ?? err.message.split("\n")[0]}):\n${(err.stderr ?? "").slice(-3000)}`);
      });
      const unsteered = /^unsteered: ([\s\S]*?)\nsteered: {3}/m.exec(stdout)?.[1]?.trim();
      const steered = /^steered: {3}([\s\S]*)$/m.exec(stdout)?.[1]?.trim();
      expect(unsteered, stdout).toBeTruthy();
      expect(steered, stdout).toBeTruthy();
      expect(steered).not.toBe(unsteered);
    }, 900_000);
  }
});
