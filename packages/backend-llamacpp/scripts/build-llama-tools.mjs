#!/usr/bin/env node
// Builds llama.cpp's own command-line tools (llama-completion, llama-cvector-generator,
// llama-quantize) from the
// exact llama.cpp source node-llama-cpp bundles (its git bundle), for the oracle tests. Not run
// on install: a test globalSetup calls it on demand. The build is cached outside the repo, keyed
// by the bundle's commit, so it runs once per machine:
//   ${EMOSTEER_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/emosteer}/llama-tools/<commit>/bin/
// Usage: node scripts/build-llama-tools.mjs   (prints the bin directory on the last line)
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Tools the oracle and engine-parity tests run. */
export const LLAMA_TOOLS = ["llama-completion", "llama-cvector-generator", "llama-quantize"];

function cacheRoot() {
  if (process.env.EMOSTEER_CACHE_DIR) return process.env.EMOSTEER_CACHE_DIR;
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "emosteer");
}

function nodeLlamaCppDir() {
  // node-llama-cpp's "exports" hide package.json, so find it through this package's node_modules.
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "node_modules", "node-llama-cpp");
  if (!fs.existsSync(dir)) throw new Error(`node-llama-cpp is not installed at ${dir}: run \`pnpm install\` at the repo root.`);
  return fs.realpathSync(dir);
}

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
 * Builds the tools if they are not cached yet and returns the directory holding them.
 * Concurrent callers wait on a lock directory instead of building twice.
 */
export async function buildLlamaTools({ log = (m) => process.stderr.write(`[llama-tools] ${m}\n`) } = {}) {
  const pkgDir = nodeLlamaCppDir();
  const bundle = path.join(pkgDir, "llama", "gitRelease.bundle");
  if (!fs.existsSync(bundle)) throw new Error(`node-llama-cpp has no llama.cpp git bundle at ${bundle}: reinstall node-llama-cpp 3.21.1.`);
  const commit = execFileSync("git", ["bundle", "list-heads", bundle], { encoding: "utf8" }).split(/\s/)[0];
  const root = path.join(cacheRoot(), "llama-tools", commit.slice(0, 12));
  const binDir = path.join(root, "bin");
  const done = path.join(root, "build.done");
  const missing = () => LLAMA_TOOLS.filter((tool) => !fs.existsSync(path.join(binDir, tool)));
  const complete = () => fs.existsSync(done) && missing().length === 0;
  if (complete()) return binDir;

  fs.mkdirSync(path.dirname(root), { recursive: true });
  const lock = `${root}.lock`;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (complete()) return binDir;
      const age = Date.now() - fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs;
      if (age > 60 * 60_000) fs.rmSync(lock, { recursive: true, force: true }); // stale: a killed build
      log(`waiting for another build of the llama.cpp tools (${lock})`);
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
  try {
    if (complete()) return binDir;
    const started = Date.now();
    const src = path.join(root, "src");
    const build = path.join(root, "build");
    // A finished build of an older, shorter tool list: its configured tree only needs the new targets.
    const targets = fs.existsSync(done) && fs.existsSync(path.join(build, "CMakeCache.txt")) ? missing() : LLAMA_TOOLS;
    if (targets === LLAMA_TOOLS) await cloneAndConfigure(bundle, commit, pkgDir, src, build, log);
    const jobs = String(Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 4)));
    log(`compiling ${targets.join(", ")} with ${jobs} jobs (several minutes on 2 cores)`);
    await run("cmake", ["--build", build, "--config", "Release", "-j", jobs, "--target", ...targets]);
    fs.mkdirSync(binDir, { recursive: true });
    for (const tool of targets) {
      const built = [path.join(build, "bin", tool), path.join(build, "bin", "Release", tool)].find((p) => fs.existsSync(p));
      if (!built) throw new Error(`cmake finished but ${tool} was not produced under ${build}/bin`);
      fs.copyFileSync(built, path.join(binDir, tool));
      fs.chmodSync(path.join(binDir, tool), 0o755);
    }
    fs.writeFileSync(done, JSON.stringify({ commit, tools: LLAMA_TOOLS, seconds: (Date.now() - started) / 1000 }));
    log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s → ${binDir}`);
    return binDir;
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Clones the bundled llama.cpp source, applies node-llama-cpp's patches and configures the build. */
async function cloneAndConfigure(bundle, commit, pkgDir, src, build, log) {
  fs.rmSync(src, { recursive: true, force: true });
  log(`cloning llama.cpp ${commit.slice(0, 12)} from ${bundle}`);
  await run("git", ["clone", "--quiet", bundle, src]);
  await run("git", ["-C", src, "checkout", "--quiet", commit]);
  // The same source patches node-llama-cpp applies to its own build.
  const patchesDir = path.join(pkgDir, "llama", "patches");
  for (const patch of fs.existsSync(patchesDir) ? fs.readdirSync(patchesDir).filter((f) => f.endsWith(".diff")) : []) {
    await run("git", ["-C", src, "apply", path.join(patchesDir, patch)]);
  }
  log(`configuring (cmake, Release, CPU, native) in ${build}`);
  await run("cmake", [
    "-S", src, "-B", build, ...(hasNinja() ? ["-G", "Ninja"] : []),
    "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DGGML_NATIVE=ON",
    "-DLLAMA_CURL=OFF", "-DLLAMA_HTTPLIB=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_BORINGSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
  ]);
}

function hasNinja() {
  try {
    execFileSync("ninja", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
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
