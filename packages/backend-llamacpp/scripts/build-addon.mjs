#!/usr/bin/env node
// Builds node-llama-cpp's native addon, patched by patches/node-llama-cpp@3.21.1.patch (control
// vectors, activation capture, raw logits), for the CPU from the llama.cpp source bundled inside
// node-llama-cpp (no network). Run by the repo root's `postinstall`; run it by hand with
//   node packages/backend-llamacpp/scripts/build-addon.mjs [--force | --incremental]
// The build lands in node-llama-cpp's own localBuilds directory. pnpm installs a patched package
// under a directory named after the patch hash, so a changed patch gets a fresh directory and a
// fresh build; on top of that a stamp keyed by the addon sources' and the patch file's hash lets a
// second install on the same machine skip the ~4 min compile. Set EMOSTEER_SKIP_ADDON_BUILD=1 to
// skip it altogether.
// Working on the patch: edit the C++ in node-llama-cpp's installed llama/addon/ and run with
// --incremental, which recompiles only the addon target in the existing build (seconds, not
// minutes); then regenerate the patch from those files (the lockfile's patch hash changes with it).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const packageDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const patchFile = path.join(packageDir, "..", "..", "patches", "node-llama-cpp@3.21.1.patch");
const log = (message) => process.stderr.write(`[emosteer addon] ${message}\n`);

/** Methods the patch adds to AddonContext; their absence means an unpatched build is loaded. */
export const PATCHED_METHODS = ["setControlVector", "setActivationCapture", "takeActivationCapture", "getBatchLogits"];

function nodeLlamaCppDir() {
  const dir = path.join(packageDir, "node_modules", "node-llama-cpp");
  if (!fs.existsSync(dir)) throw new Error(`node-llama-cpp is not installed at ${dir}: run \`pnpm install\` at the repo root.`);
  return fs.realpathSync(dir);
}

/**
 * sha256 of the addon sources (patched C++ and build files) and of the patch itself (which may
 * touch more than the addon's sources), which decides whether a rebuild is due.
 */
function addonSourceHash(nlcDir) {
  const hash = createHash("sha256");
  if (fs.existsSync(patchFile)) hash.update("patch").update(fs.readFileSync(patchFile));
  const files = ["llama/CMakeLists.txt", "package.json"];
  for (const name of fs.readdirSync(path.join(nlcDir, "llama", "addon")).sort()) files.push(`llama/addon/${name}`);
  for (const file of files) {
    const full = path.join(nlcDir, file);
    if (fs.statSync(full).isFile()) hash.update(file).update(fs.readFileSync(full));
  }
  return hash.digest("hex").slice(0, 16);
}

function stampPath(nlcDir) {
  return path.join(nlcDir, "llama", "localBuilds", "emosteer-addon.json");
}

/** Loads the local build the way the backend does and checks the patched methods are there. */
async function verify(nlcDir) {
  const { getLlama } = await import(pathToFileURL(path.join(nlcDir, "dist", "index.js")).href);
  const llama = await getLlama({ gpu: false, build: "never", usePrebuiltBinaries: false, progressLogs: false, logLevel: "error" });
  try {
    const proto = llama._bindings.AddonContext.prototype;
    const missing = PATCHED_METHODS.filter((m) => typeof proto[m] !== "function");
    if (missing.length > 0) throw new Error(`the built addon lacks ${missing.join(", ")}: the patch was not compiled in`);
  } finally {
    await llama.dispose();
  }
}

/** Holds a lock directory while `task` runs, so two installs at once do not build into the same folder. */
async function withLock(lock, task) {
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 60 * 60_000) fs.rmSync(lock, { recursive: true, force: true }); // left by a killed build
      else {
        log(`another build is running (${lock}); waiting`);
        await new Promise((r) => setTimeout(r, 10_000));
      }
    }
  }
  try {
    return await task();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

export async function buildAddon({ force = false, incremental = false } = {}) {
  const nlcDir = nodeLlamaCppDir();
  fs.mkdirSync(path.join(nlcDir, "llama", "localBuilds"), { recursive: true });
  return withLock(path.join(nlcDir, "llama", "localBuilds", "emosteer-addon.lock"), () => buildUnlocked(nlcDir, force, incremental));
}

/** The finished CPU build directory node-llama-cpp made (holds build.ninja or a Makefile), or null. */
function existingBuildDir(nlcDir) {
  const dir = path.join(nlcDir, "llama", "localBuilds", `${process.platform === "win32" ? "win" : process.platform === "darwin" ? "mac" : "linux"}-${process.arch}`);
  const finished = fs.existsSync(path.join(dir, "buildDone.status"));
  return finished && ["build.ninja", "Makefile"].some((f) => fs.existsSync(path.join(dir, f))) ? dir : null;
}

function writeStamp(nlcDir, sourceHash, seconds) {
  const stamp = stampPath(nlcDir);
  const tmp = `${stamp}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ sourceHash, seconds, builtAt: new Date().toISOString() }, null, 2));
  fs.renameSync(tmp, stamp);
}

async function buildUnlocked(nlcDir, force, incremental) {
  const sourceHash = addonSourceHash(nlcDir);
  const stamp = stampPath(nlcDir);
  const previous = fs.existsSync(stamp) ? JSON.parse(fs.readFileSync(stamp, "utf8")) : null;
  if (!force && previous?.sourceHash === sourceHash) {
    try {
      await verify(nlcDir);
      log(`patched addon already built (sources ${sourceHash}, took ${previous.seconds} s); skipping. Use --force to rebuild.`);
      return;
    } catch (err) {
      log(`cached build unusable (${err.message}); rebuilding`);
    }
  }
  const buildDir = incremental ? existingBuildDir(nlcDir) : null;
  if (incremental && !buildDir) log("no finished build to recompile incrementally; doing a full build");
  if (buildDir) {
    log(`recompiling the addon target in ${buildDir}…`);
    const started = Date.now();
    const result = spawnSync("cmake", ["--build", buildDir, "--config", "Release", "--target", "llama-addon"], { stdio: "inherit" });
    if (result.status !== 0) throw new Error(`cmake --build exited with ${result.status ?? result.signal}; see the output above, or run without --incremental for a full build.`);
    await verify(nlcDir);
    const seconds = Math.round((Date.now() - started) / 1000);
    writeStamp(nlcDir, sourceHash, seconds);
    log(`patched addon recompiled in ${seconds} s`);
    return;
  }
  log(`building the patched llama.cpp addon for the CPU from the bundled source (about 4 min on 2 cores)…`);
  const started = Date.now();
  const result = spawnSync(
    process.execPath,
    [path.join(nlcDir, "dist", "cli", "cli.js"), "source", "download", "--gpu", "false", "--noUsageExample"],
    { cwd: packageDir, stdio: "inherit", env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: "false" } },
  );
  if (result.status !== 0) {
    throw new Error(`node-llama-cpp source download exited with ${result.status ?? result.signal}; see the output above (needs cmake, a C++ compiler and git).`);
  }
  await verify(nlcDir);
  const seconds = Math.round((Date.now() - started) / 1000);
  writeStamp(nlcDir, sourceHash, seconds);
  log(`patched addon built in ${seconds} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  if (process.env.EMOSTEER_SKIP_ADDON_BUILD === "1") {
    log("EMOSTEER_SKIP_ADDON_BUILD=1: not building; @emosteer/backend-llamacpp will refuse to load until you run this script.");
  } else {
    buildAddon({ force: process.argv.includes("--force"), incremental: process.argv.includes("--incremental") }).catch((err) => {
      log(`build failed: ${err.message}`);
      process.exit(1);
    });
  }
}
