#!/usr/bin/env node
// Builds the patched llama.cpp addon @emosteer/backend-llamacpp needs (control vectors, activation
// capture, raw logits: patches/node-llama-cpp@<version>.patch; per-sequence control vectors in
// llama.cpp's graph: patches/llama.cpp-<commit>.patch, both shipped in this package) into a
// per-machine cache, from the llama.cpp source node-llama-cpp ships (its git bundle; no network):
//   ${EMOSTEER_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/emosteer}/llama-addon/<node-llama-cpp version>-<addon patch hash>-<llama.cpp patch hash>-<options hash>/
// The options hash covers the cmake options and the GPU backend (CPU by default; --gpu vulkan|cuda|metal
// or EMOSTEER_LLAMA_GPU, built by node-llama-cpp's own `source build --gpu`), so each GPU choice is
// a build of its own and the backend loads the one EMOSTEER_LLAMA_GPU names.
// That directory holds a private, patched copy of node-llama-cpp (with its dependencies) whose own
// build lands in its llama/localBuilds; the backend loads that copy, so the node-llama-cpp of the
// project that installed us is never written to, and every project on the machine (this monorepo's
// postinstall included) shares one build. A stamp (addon.json) is written last, after the built
// addon was loaded and its patched methods found, so a killed build is never taken for a finished one.
//
//   npx emosteer-build-addon [--force | --incremental] [--gpu cpu|vulkan|cuda|metal]   (in a project that installed the package)
//   node packages/backend-llamacpp/scripts/build-addon.mjs [same flags]                  (in this monorepo; the root postinstall)
//
// The backend also runs this on first use when the cache is empty (set EMOSTEER_SKIP_ADDON_BUILD=1
// to make it refuse instead). Needs cmake ≥ 3.19, a C++17 compiler and git (about 4 min on 2 cores).
// Working on the patches: edit the C++ in <cache dir>/node_modules/node-llama-cpp/llama/addon/ (the
// addon) or .../llama/llama.cpp/ (llama.cpp), run with --incremental (recompiles the addon target and
// the llama.cpp files it depends on that changed), then regenerate the patch from those files; the
// new patch hash names a new cache directory, built in full once.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const packageDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const defaultLog = (message) => process.stderr.write(`[emosteer addon] ${message}\n`);

/** Methods the patch adds to AddonContext; their absence means an unpatched build is loaded. */
export const PATCHED_METHODS = [
  "setControlVector",
  "setSequenceSteering",
  "setActivationCapture",
  "takeActivationCapture",
  "getBatchLogits",
];

/**
 * The llama.cpp commit each supported node-llama-cpp version bundles (llama/gitRelease.bundle), whose
 * source patches/llama.cpp-<first 8 hex digits>.patch applies to; checked after unpacking.
 */
const BUNDLED_LLAMA_CPP = { "3.21.1": "80fb11ac73e66d89eae2c6a91d8a77428fa733ed" };

/** How a user builds the addon by hand, for error messages. */
export const BUILD_ADDON_COMMAND = "npx emosteer-build-addon";

/** The GPU backends node-llama-cpp's source build knows (`--gpu`); false is the CPU-only build. */
export const GPU_BACKENDS = ["vulkan", "cuda", "metal"];

/**
 * The GPU backend of the build to make or load: `value` (a --gpu flag), else EMOSTEER_LLAMA_GPU,
 * else the CPU (false). "cpu", "false", "off" and "" also mean the CPU.
 */
export function gpuChoice(value, env = process.env) {
  const raw = (value ?? env.EMOSTEER_LLAMA_GPU ?? "").trim().toLowerCase();
  if (raw === "" || raw === "cpu" || raw === "false" || raw === "off") return false;
  if (GPU_BACKENDS.includes(raw)) return raw;
  throw new Error(
    `unknown llama.cpp GPU backend "${raw}" (${value !== undefined ? "--gpu" : "EMOSTEER_LLAMA_GPU"}): use one of cpu, ${GPU_BACKENDS.join(", ")}.`,
  );
}

export function cacheRoot() {
  if (process.env.EMOSTEER_CACHE_DIR) return process.env.EMOSTEER_CACHE_DIR;
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "emosteer");
}

/** Finds `name` the way Node does from `dir` (node_modules of dir and its parents), as a real path. */
function resolvePackageDir(dir, name) {
  for (let d = dir; ; d = path.dirname(d)) {
    const candidate = path.join(d, "node_modules", name);
    if (fs.existsSync(path.join(candidate, "package.json"))) return fs.realpathSync(candidate);
    if (path.dirname(d) === d) return null;
  }
}

const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"));

/**
 * The node-llama-cpp this package depends on (read only: source of the copy), the patch for its
 * version and the cache directory of the build they make.
 */
export function addonLocation({ gpu = gpuChoice() } = {}) {
  const source = resolvePackageDir(packageDir, "node-llama-cpp");
  if (!source) throw new Error(`node-llama-cpp is not installed where ${packageDir} can resolve it: reinstall @emosteer/backend-llamacpp.`);
  const version = readJson(path.join(source, "package.json")).version;
  const patchFile = path.join(packageDir, "patches", `node-llama-cpp@${version}.patch`);
  if (!fs.existsSync(patchFile)) {
    const known = fs.existsSync(path.dirname(patchFile)) ? fs.readdirSync(path.dirname(patchFile)).join(", ") : "none";
    throw new Error(
      `@emosteer/backend-llamacpp has no patch for node-llama-cpp ${version} (it has: ${known}); install the node-llama-cpp version it depends on.`,
    );
  }
  const llamaCppCommit = BUNDLED_LLAMA_CPP[version];
  const llamaCppPatchFile = llamaCppCommit ? path.join(packageDir, "patches", `llama.cpp-${llamaCppCommit.slice(0, 8)}.patch`) : null;
  if (!llamaCppPatchFile || !fs.existsSync(llamaCppPatchFile)) {
    throw new Error(
      `@emosteer/backend-llamacpp has no llama.cpp source patch for the llama.cpp node-llama-cpp ${version} bundles (${llamaCppPatchFile ?? "unknown commit"}); install the node-llama-cpp version it depends on.`,
    );
  }
  // Vulkan builds also get a small compatibility patch for Vulkan headers older than the ones this
  // llama.cpp was written against (Debian 12 ships 1.3.239, without VK_EXT_layer_settings); a
  // no-op with newer headers (#ifdef on the extension's macro).
  const vulkanPatchFile =
    gpu === "vulkan" && llamaCppCommit
      ? path.join(packageDir, "patches", `llama.cpp-${llamaCppCommit.slice(0, 8)}-vulkan-headers.patch`)
      : null;
  if (vulkanPatchFile && !fs.existsSync(vulkanPatchFile))
    throw new Error(`@emosteer/backend-llamacpp lacks ${vulkanPatchFile}, needed for Vulkan builds: reinstall it.`);
  const hashOf = (file, length) => createHash("sha256").update(fs.readFileSync(file)).digest("hex").slice(0, length);
  const patchHash = hashOf(patchFile, 12);
  // Either patch changed: another directory, so a changed patch always builds a new addon.
  const llamaCppPatchHash = hashOf(llamaCppPatchFile, 8);
  // The build's cmake options (our defaults, overridden by node-llama-cpp's NODE_LLAMA_CPP_CMAKE_OPTION_*
  // variables, e.g. GGML_NATIVE=OFF for another instruction set) name the directory, so another set
  // of options makes another build instead of replacing this one.
  // A GPU backend joins the hashed options; the CPU build hashes the cmake options alone, as before
  // GPU builds existed, so its cache directory keeps its name.
  const cmakeOptions = Object.entries(buildCmakeOptions()).sort(([a], [b]) => a.localeCompare(b));
  const variantOf = gpu
    ? [...cmakeOptions, ["gpu", gpu], ...(vulkanPatchFile ? [["vulkanHeadersPatch", hashOf(vulkanPatchFile, 8)]] : [])]
    : cmakeOptions;
  const variant = createHash("sha256").update(JSON.stringify(variantOf)).digest("hex").slice(0, 8);
  const dir = path.join(cacheRoot(), "llama-addon", `${version}-${patchHash}-${llamaCppPatchHash}-${variant}`);
  const nodeLlamaCpp = path.join(dir, "node_modules", "node-llama-cpp");
  const localBuilds = path.join(nodeLlamaCpp, "llama", "localBuilds");
  // node-llama-cpp names its build folder after the platform and any custom cmake options, and records it.
  const lastBuild = path.join(nodeLlamaCpp, "llama", "lastBuild.json");
  const folderName = fs.existsSync(lastBuild)
    ? readJson(lastBuild).folderName
    : `${process.platform === "darwin" ? "mac" : process.platform === "win32" ? "win" : process.platform}-${process.arch}`;
  return {
    source,
    version,
    gpu,
    patchFile,
    patchHash,
    llamaCppCommit,
    llamaCppPatchFile,
    llamaCppPatchHash,
    vulkanPatchFile,
    dir,
    nodeLlamaCpp,
    /** The CMake build tree of the addon (llama.cpp's libraries; the tools are built in it too). */
    buildTree: path.join(localBuilds, folderName),
    stamp: path.join(dir, "addon.json"),
    lock: `${dir}.lock`,
  };
}

/**
 * ggml's AMX kernels are left out of the CPU build. A native build (-march=native) compiles them in
 * on any CPU that reports AMX, and on virtual machines that report it without granting the tile
 * state they die with SIGILL on the first matrix multiply (seen here: `tilezero` in
 * tinygemm_kernel_amx). Explicit -mno-amx-* win over -march=native in GCC and Clang whatever their
 * order; the other native instruction sets (AVX-512, VNNI, …) stay on.
 */
// They go in the Release flags because cmake-js sets CMAKE_CXX_FLAGS itself (-DBUILDING_NODE_EXTENSION),
// replacing any value given for it; "-O3 -DNDEBUG" is CMake's own Release default, kept.
const NO_AMX_RELEASE_FLAGS = "-O3 -DNDEBUG -mno-amx-tile -mno-amx-int8 -mno-amx-bf16";
const DEFAULT_CMAKE_OPTIONS = {
  NODE_LLAMA_CPP_CMAKE_OPTION_CMAKE_C_FLAGS_RELEASE: NO_AMX_RELEASE_FLAGS,
  NODE_LLAMA_CPP_CMAKE_OPTION_CMAKE_CXX_FLAGS_RELEASE: NO_AMX_RELEASE_FLAGS,
};

/** The NODE_LLAMA_CPP_CMAKE_OPTION_* variables the build runs with: ours, then the user's on top. */
export function buildCmakeOptions(env = process.env) {
  const supportsAmxFlags = process.arch === "x64" || process.arch === "ia32";
  const options = supportsAmxFlags ? { ...DEFAULT_CMAKE_OPTIONS } : {};
  for (const [name, value] of Object.entries(env))
    if (name.startsWith("NODE_LLAMA_CPP_CMAKE_OPTION_") && value !== undefined) options[name] = value;
  return options;
}

/** The same options as node-llama-cpp's `cmakeOptions` (prefix removed), so loading finds the folder the build made. */
export function llamaCmakeOptions(env = process.env) {
  const prefix = "NODE_LLAMA_CPP_CMAKE_OPTION_";
  return Object.fromEntries(Object.entries(buildCmakeOptions(env)).map(([name, value]) => [name.slice(prefix.length), value]));
}

/** The finished build's stamp, or null when the cache has none (never built, or a build was killed). */
export function readStamp(location = addonLocation()) {
  return fs.existsSync(location.stamp) ? readJson(location.stamp) : null;
}

/** Loads the private copy's build the way the backend does and checks the patched methods are there. */
async function verify(location) {
  const { getLlama } = await import(pathToFileURL(path.join(location.nodeLlamaCpp, "dist", "index.js")).href);
  const llama = await getLlama({
    gpu: location.gpu,
    build: "never",
    cmakeOptions: llamaCmakeOptions(),
    usePrebuiltBinaries: false,
    progressLogs: false,
    logLevel: "error",
  });
  try {
    const proto = llama._bindings.AddonContext.prototype;
    const missing = PATCHED_METHODS.filter((m) => typeof proto[m] !== "function");
    if (missing.length > 0) throw new Error(`the built addon lacks ${missing.join(", ")}: the patch was not compiled in`);
  } finally {
    await llama.dispose();
  }
}

const pidAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
};

/**
 * Runs `task` holding a lock directory (with the holder's pid inside), so two builds of the same
 * cache directory never run at once; a lock whose process is gone is taken over. While waiting,
 * `finished()` is polled: a value other than undefined (the other build's result) is returned
 * without running `task`.
 */
export async function withLock(lock, task, log = defaultLog, finished = () => undefined) {
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  let waiting = false;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, "owner.json"), JSON.stringify({ pid: process.pid, host: os.hostname() }));
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      const result = finished();
      if (result !== undefined) return result;
      if (!fs.statSync(lock, { throwIfNoEntry: false })) {
        fs.rmSync(lock, { force: true }); // a dangling link, or a lock released a moment ago
        continue;
      }
      let owner = null;
      try {
        owner = readJson(path.join(lock, "owner.json"));
      } catch {}
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      const dead = owner ? owner.host === os.hostname() && !pidAlive(owner.pid) : age > 60_000;
      if (dead || age > 2 * 60 * 60_000) {
        log(`taking over a lock left by a stopped build (${lock})`);
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!waiting) log(`another build is running (${lock}, pid ${owner?.pid ?? "?"}); waiting for it`);
      waiting = true;
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
  try {
    return await task();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Says what is missing, in one message, before a build that would fail minutes in. */
function checkBuildTools() {
  const works = (cmd, args) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
  const missing = [];
  const cmake = spawnSync("cmake", ["--version"], { encoding: "utf8" });
  const cmakeVersion = cmake.status === 0 ? /(\d+)\.(\d+)/.exec(cmake.stdout) : null;
  if (!cmakeVersion) missing.push("cmake (≥ 3.19)");
  else if (Number(cmakeVersion[1]) < 3 || (Number(cmakeVersion[1]) === 3 && Number(cmakeVersion[2]) < 19))
    missing.push(`cmake ≥ 3.19 (found ${cmakeVersion[0]})`);
  const compilers = process.env.CXX ? [process.env.CXX] : process.platform === "win32" ? ["cl", "clang++"] : ["c++", "g++", "clang++"];
  if (!compilers.some((cxx) => works(cxx, process.platform === "win32" && cxx === "cl" ? [] : ["--version"])))
    missing.push(`a C++17 compiler (${compilers.join(" or ")})`);
  if (!works("git", ["--version"])) missing.push("git");
  if (missing.length > 0) {
    throw new Error(
      `cannot build the patched llama.cpp addon: ${missing.join(", ")} not found on PATH. ` +
        `Install them (Debian/Ubuntu: apt-get install cmake g++ git; macOS: xcode-select --install and brew install cmake) and run \`${BUILD_ADDON_COMMAND}\`.`,
    );
  }
}

/**
 * Copies node-llama-cpp and the packages it depends on into `<dir>/node_modules`, laid out as pnpm
 * does (each package in `.store/<name>@<version>/node_modules/<name>`, its dependencies symlinked
 * beside it), so the copy resolves its dependencies without the consumer's node_modules and keeps
 * working after that project is gone. Prebuilt-binary packages (@node-llama-cpp/*) are left out:
 * the copy only ever loads its own build.
 */
function copyNodeLlamaCpp(location, log) {
  const modules = path.join(location.dir, "node_modules");
  const store = path.join(modules, ".store");
  const stored = new Map(); // real source dir → store dir of its copy
  const storeDirOf = (pj) => path.join(store, `${pj.name.replace("/", "+")}@${pj.version}`);
  const link = (fromModules, name, target) => {
    const at = path.join(fromModules, name);
    fs.mkdirSync(path.dirname(at), { recursive: true });
    if (!fs.existsSync(at)) fs.symlinkSync(path.relative(path.dirname(at), target), at, "junction");
  };
  const dependenciesOf = (pj) =>
    [
      ...Object.keys(pj.dependencies ?? {}).map((name) => ({ name, optional: false })),
      ...Object.keys(pj.optionalDependencies ?? {}).map((name) => ({ name, optional: true })),
    ].filter(({ name }) => !name.startsWith("@node-llama-cpp/"));
  const queue = [];
  const enqueue = (src) => {
    if (stored.has(src)) return stored.get(src);
    const pj = readJson(path.join(src, "package.json"));
    const dest = path.join(storeDirOf(pj), "node_modules", pj.name);
    stored.set(src, dest);
    queue.push({ src, dest, pj });
    return dest;
  };
  // node-llama-cpp itself sits at <dir>/node_modules/node-llama-cpp; its dependencies beside it.
  const top = readJson(path.join(location.source, "package.json"));
  stored.set(location.source, location.nodeLlamaCpp);
  queue.push({ src: location.source, dest: location.nodeLlamaCpp, pj: top });
  let copied = 0;
  while (queue.length > 0) {
    const { src, dest, pj } = queue.shift();
    fs.cpSync(src, dest, {
      recursive: true,
      dereference: false,
      filter: (file) => {
        const rel = path.relative(src, file);
        if (rel === "node_modules" || rel.startsWith(`node_modules${path.sep}`)) return false;
        // Build products and the unpacked source of an earlier build of the original are not copied.
        return (
          src !== location.source ||
          !["llama/localBuilds", "llama/llama.cpp", "llama/lastBuild.json", ".temp"].some(
            (p) => rel === path.normalize(p) || rel.startsWith(path.normalize(p) + path.sep),
          )
        );
      },
    });
    copied++;
    const depModules = src === location.source ? modules : path.dirname(pj.name.includes("/") ? path.dirname(dest) : dest);
    for (const { name, optional } of dependenciesOf(pj)) {
      const found = resolvePackageDir(src, name);
      if (!found) {
        if (optional) continue;
        throw new Error(`${pj.name} depends on ${name}, which is not installed next to it (${src}): reinstall node-llama-cpp.`);
      }
      link(depModules, name, enqueue(found));
    }
  }
  // Bin link, so node-llama-cpp's `npm run cmake-js-llama` finds cmake-js.
  const cmakeJs = resolvePackageDir(location.source, "cmake-js");
  const bin = cmakeJs ? readJson(path.join(cmakeJs, "package.json")).bin : undefined;
  const entry = typeof bin === "string" ? bin : bin?.["cmake-js"];
  if (!entry)
    throw new Error(`node-llama-cpp's dependency cmake-js is missing or has no bin next to ${location.source}: reinstall node-llama-cpp.`);
  const target = path.join(stored.get(cmakeJs), entry);
  fs.chmodSync(target, 0o755);
  fs.mkdirSync(path.join(modules, ".bin"), { recursive: true });
  fs.symlinkSync(path.relative(path.join(modules, ".bin"), target), path.join(modules, ".bin", "cmake-js"));
  log(`copied node-llama-cpp ${location.version} and ${copied - 1} packages it depends on into ${modules}`);
}

/** Applies `patchFile` to the files under `dir` (unless they carry it already). */
function applyPatch(dir, patchFile) {
  // GIT_CEILING_DIRECTORIES: never let git find an enclosing repository (the cache could sit in one),
  // so `git apply` patches the files relative to `dir` (llama/llama.cpp is a clone of its own: the same).
  const git = (args) =>
    spawnSync("git", args, {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, GIT_CEILING_DIRECTORIES: path.dirname(dir) },
    });
  // A source that already carries the patch (a package manager applied it) is used as it is.
  if (git(["apply", "--reverse", "--check", patchFile]).status === 0) return;
  const result = git(["apply", "--whitespace=nowarn", patchFile]);
  if (result.status !== 0) throw new Error(`git apply ${patchFile} failed in ${dir}: ${result.stderr.trim()}`);
}

/** Runs node-llama-cpp's CLI in the private copy with the build's cmake options; progress on our stderr. */
function nodeLlamaCppCli(location, args, what) {
  const result = spawnSync(process.execPath, [path.join(location.nodeLlamaCpp, "dist", "cli", "cli.js"), ...args], {
    cwd: location.nodeLlamaCpp,
    // stdout to our stderr: progress stays visible without polluting a caller's stdout.
    stdio: ["ignore", 2, 2],
    env: { ...process.env, ...buildCmakeOptions(), NODE_LLAMA_CPP_SKIP_DOWNLOAD: "false" },
  });
  if (result.status !== 0)
    throw new Error(
      `node-llama-cpp ${what} exited with ${result.status ?? result.signal}; see the output above (needs cmake, a C++ compiler and git).`,
    );
}

/** Unpacks the llama.cpp source node-llama-cpp bundles and patches it, checking it is the commit the patch is for. */
function prepareLlamaCppSource(location) {
  nodeLlamaCppCli(location, ["source", "download", "--gpu", "false", "--skipBuild", "--noUsageExample"], "source download");
  const source = path.join(location.nodeLlamaCpp, "llama", "llama.cpp");
  const head = spawnSync("git", ["rev-parse", "HEAD"], {
    cwd: source,
    encoding: "utf8",
    env: { ...process.env, GIT_CEILING_DIRECTORIES: path.dirname(source) },
  });
  const commit = head.status === 0 ? head.stdout.trim() : null;
  if (commit !== location.llamaCppCommit)
    throw new Error(
      `node-llama-cpp ${location.version} unpacked llama.cpp ${commit ?? "(unknown commit)"} in ${source}, but ${path.basename(location.llamaCppPatchFile)} is for ${location.llamaCppCommit}: reinstall node-llama-cpp ${location.version}.`,
    );
  applyPatch(source, location.llamaCppPatchFile);
  if (location.vulkanPatchFile) applyPatch(source, location.vulkanPatchFile);
}

function writeJsonAtomically(file, value) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2));
  fs.renameSync(tmp, file);
}

/**
 * Makes sure the patched addon is built and verified in the cache; returns its location. Cheap when
 * the stamp exists (no load); `force` rebuilds from scratch, `incremental` recompiles only the addon
 * target of the existing build tree (for work on the patch).
 */
export async function ensureAddon({ force = false, incremental = false, gpu = gpuChoice(), log = defaultLog } = {}) {
  const location = addonLocation({ gpu });
  if (!force && !incremental && readStamp(location)) return location;
  const builtMeanwhile = () => (!force && !incremental && readStamp(location) ? location : undefined);
  return withLock(location.lock, () => buildUnlocked(location, force, incremental, log), log, builtMeanwhile);
}

async function buildUnlocked(location, force, incremental, log) {
  const previous = readStamp(location);
  if (previous && !force && !incremental) {
    log(`patched addon already built by another process (${location.dir})`);
    return location;
  }
  if (incremental) {
    if (!fs.existsSync(path.join(location.buildTree, "CMakeCache.txt")))
      throw new Error(`no build tree at ${location.buildTree} to recompile: run without --incremental first.`);
    const buildTree = fs.realpathSync(location.buildTree); // CMake wants the path it was configured at
    log(`recompiling the addon target in ${buildTree}…`);
    const started = Date.now();
    const result = spawnSync("cmake", ["--build", buildTree, "--config", "Release", "--target", "llama-addon"], {
      stdio: ["ignore", 2, 2],
    });
    if (result.status !== 0)
      throw new Error(
        `cmake --build exited with ${result.status ?? result.signal}; see the output above, or run with --force for a full build.`,
      );
    await verify(location);
    writeJsonAtomically(location.stamp, { ...previous, recompiledAt: new Date().toISOString() });
    log(`patched addon recompiled in ${Math.round((Date.now() - started) / 1000)} s`);
    return location;
  }
  checkBuildTools();
  const started = Date.now();
  fs.rmSync(location.dir, { recursive: true, force: true });
  fs.mkdirSync(location.dir, { recursive: true });
  copyNodeLlamaCpp(location, log);
  applyPatch(location.nodeLlamaCpp, location.patchFile);
  // The llama.cpp patch goes between unpacking the bundled source and cmake: download without
  // building, patch, then build.
  prepareLlamaCppSource(location);
  log(
    location.gpu
      ? `building the patched llama.cpp addon for ${location.gpu} from the source node-llama-cpp ${location.version} bundles, in ${location.dir} (needs the ${location.gpu} SDK; Vulkan compiles ~100 shaders: 20–40 min on 2 cores)…`
      : `building the patched llama.cpp addon for the CPU from the source node-llama-cpp ${location.version} bundles, in ${location.dir} (about 4 min on 2 cores, once per machine)…`,
  );
  nodeLlamaCppCli(location, ["source", "build", "--gpu", location.gpu ? location.gpu : "false", "--noUsageExample"], "source build");
  await verify(location);
  const seconds = Math.round((Date.now() - started) / 1000);
  writeJsonAtomically(location.stamp, {
    nodeLlamaCpp: location.version,
    gpu: location.gpu,
    patch: path.basename(location.patchFile),
    patchHash: location.patchHash,
    llamaCppPatch: path.basename(location.llamaCppPatchFile),
    llamaCppPatchHash: location.llamaCppPatchHash,
    seconds,
    builtAt: new Date().toISOString(),
  });
  log(`patched addon built in ${seconds} s → ${location.dir}`);
  return location;
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  if (process.env.EMOSTEER_SKIP_ADDON_BUILD === "1") {
    defaultLog(
      `EMOSTEER_SKIP_ADDON_BUILD=1: not building; @emosteer/backend-llamacpp will refuse to load until you run \`${BUILD_ADDON_COMMAND}\`.`,
    );
  } else {
    const force = process.argv.includes("--force");
    const gpuAt = process.argv.findIndex((arg) => arg === "--gpu" || arg.startsWith("--gpu="));
    let gpu;
    try {
      const arg = process.argv[gpuAt];
      gpu = gpuAt < 0 ? gpuChoice() : gpuChoice(arg.includes("=") ? arg.slice("--gpu=".length) : (process.argv[gpuAt + 1] ?? ""));
    } catch (err) {
      defaultLog(err.message);
      process.exit(2);
    }
    ensureAddon({ force, incremental: process.argv.includes("--incremental"), gpu }).then(
      (location) => {
        if (!force) defaultLog(`patched addon ready in ${location.dir}`);
      },
      (err) => {
        defaultLog(`build failed: ${err.message}`);
        process.exit(1);
      },
    );
  }
}
