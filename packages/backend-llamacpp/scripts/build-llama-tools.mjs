#!/usr/bin/env node
// Builds llama.cpp's own command-line tools (llama-completion, llama-cvector-generator,
// llama-quantize) for the oracle and engine-parity tests, as extra targets of the patched addon's
// own CMake build tree (scripts/build-addon.mjs): the same bundled llama.cpp source, the same
// compile flags and the very ggml/llama libraries the addon links, so llama.cpp is compiled once
// per machine and only the tools' own sources are added. Not run on install: a test globalSetup
// calls it on demand; the tools stay in the addon's cache directory, so this runs once per machine:
//   ${EMOSTEER_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/emosteer}/llama-addon/<version>-<patch hashes>-<options hash>/…/localBuilds/<platform>/bin/
// Usage: node scripts/build-llama-tools.mjs   (prints the bin directory on the last line)
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ensureAddon, withLock } from "./build-addon.mjs";

/** Tools the oracle and engine-parity tests run. */
export const LLAMA_TOOLS = ["llama-completion", "llama-cvector-generator", "llama-quantize"];

function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
    let tail = "";
    const onData = (chunk) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-8000);
      // Progress: ninja prints "[n/N] ..." lines; forward them so a long build is visibly alive.
      for (const line of text.split("\n")) if (/^\[\d+\/\d+\]/.test(line)) process.stderr.write(`  ${line.slice(0, 110)}\n`);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}:\n${tail}`))));
  });
}

/**
 * Builds the tools if they are not built yet (building the addon first if the machine has none)
 * and returns the directory holding them; they load llama.cpp's shared libraries from that same
 * directory. Holds the addon's lock while it touches the build tree.
 */
export async function buildLlamaTools({ log = (m) => process.stderr.write(`[llama-tools] ${m}\n`) } = {}) {
  // Always the CPU build's tree: the tools are the reference the backend is compared with, also
  // when EMOSTEER_LLAMA_GPU makes the backend load a GPU build.
  const location = await ensureAddon({ gpu: false });
  // The real path: CMake refuses a build tree reached through another path than it was configured at.
  const buildTree = fs.realpathSync(location.buildTree);
  const binDir = path.join(buildTree, "bin");
  const stamp = path.join(location.dir, "tools.json");
  const complete = () => fs.existsSync(stamp) && LLAMA_TOOLS.every((tool) => fs.existsSync(path.join(binDir, tool)));
  if (complete()) return binDir;
  return withLock(
    location.lock,
    async () => {
      if (complete()) return binDir;
      const started = Date.now();
      // Turning the tools on in the configured tree changes no flag of the libraries already built.
      log(`adding llama.cpp's tools to the addon's build tree ${buildTree}`);
      await run("cmake", ["-DLLAMA_BUILD_TOOLS=ON", buildTree]);
      const jobs = String(Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 4)));
      log(`compiling ${LLAMA_TOOLS.join(", ")} with ${jobs} jobs`);
      await run("cmake", ["--build", buildTree, "--config", "Release", "-j", jobs, "--target", ...LLAMA_TOOLS]);
      const absent = LLAMA_TOOLS.filter((tool) => !fs.existsSync(path.join(binDir, tool)));
      if (absent.length > 0) throw new Error(`cmake finished but ${absent.join(", ")} not produced in ${binDir}`);
      const seconds = Math.round((Date.now() - started) / 1000);
      const tmp = `${stamp}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify({ tools: LLAMA_TOOLS, seconds, builtAt: new Date().toISOString() }, null, 2));
      fs.renameSync(tmp, stamp);
      log(`built in ${seconds} s → ${binDir}`);
      return binDir;
    },
    log,
    () => (complete() ? binDir : undefined),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  buildLlamaTools().then(
    (dir) => console.log(dir),
    (err) => {
      console.error(`[llama-tools] build failed: ${err.message}`);
      process.exit(1);
    },
  );
}
