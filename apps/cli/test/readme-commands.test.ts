// Every command line the READMEs document (the root one, the apps' and the packages') must parse: each is run with --help appended, which the
// commands answer only after parseArgs accepted every option (an unknown or misspelt option fails
// with exit 2). Model-free and quick: no command does its work.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runScript } from "./run-script.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const CLI = join(repoRoot, "apps", "cli", "src", "main.ts");
const BENCH = join(repoRoot, "apps", "bench", "src", "main.ts");

/** Shell words of one line: double and single quotes group, an unquoted `#` after a space starts a comment. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= "";
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === "#" && word === null) {
      break;
    } else word = (word ?? "") + c;
  }
  if (quote) throw new Error(`unbalanced quote in: ${line}`);
  if (word !== null) words.push(word);
  return words;
}

/** README.md at the root and in every package and app. */
function readmes(): string[] {
  const nested = ["apps", "packages"].flatMap((dir) => readdirSync(join(repoRoot, dir)).map((name) => join(dir, name, "README.md")));
  return ["README.md", ...nested].filter((path) => existsSync(join(repoRoot, path)));
}

/** The `pnpm emosteer|demo|bench …` lines of the READMEs' sh blocks, as the script they run and its arguments. */
function documentedCommands(): { line: string; script: string; args: string[] }[] {
  const blocks = readmes().flatMap((path) =>
    [...readFileSync(join(repoRoot, path), "utf8").matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!),
  );
  const commands = [];
  for (const line of blocks.flatMap((b) => b.split("\n")).map((l) => l.trim())) {
    for (const part of line.split("&&").map((p) => p.trim())) {
      if (!part.startsWith("pnpm ")) continue; // other commands (curl, npm) are not ours to check
      const [pnpm, name, ...args] = shellWords(part);
      if (pnpm !== "pnpm") continue;
      const shown = part.replace(/\s+#.*$/, "");
      if (name === "emosteer") commands.push({ line: shown, script: CLI, args });
      else if (name === "demo") commands.push({ line: shown, script: CLI, args: ["demo", ...args] });
      else if (name === "bench") commands.push({ line: shown, script: BENCH, args });
    }
  }
  return commands;
}

describe("the READMEs' command lines", () => {
  const commands = documentedCommands();

  it("are found (the CLI section, the quick start, your own emotions, other tools' vectors)", () => {
    expect(commands.length).toBeGreaterThanOrEqual(12);
    for (const name of ["extract", "generate", "judge", "models", "demo"])
      expect(commands.some((c) => c.script === CLI && c.args[0] === name)).toBe(true);
    expect(commands.some((c) => c.args.includes("--emotion-file"))).toBe(true);
    expect(commands.some((c) => c.args.some((a) => /^[a-z]+=.+\.gguf$/.test(a)))).toBe(true);
  });

  // Concurrent: each is a process start (about a second), and two run at once on two cores.
  it.concurrent.for(commands.map((c) => [c.line, c] as const))("%s --help: every option parses", async ([, command], { expect }) => {
    const run = await runScript(command.script, [...command.args, "--help"], repoRoot);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: /m);
  });

  it("a misspelt option in such a line fails (the check can fail)", async () => {
    const run = await runScript(CLI, ["generate", "--stear", "joy=1", "Hi", "--help"], repoRoot);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Unknown option '--stear'/);
  });
});
