// The Hugging Face download path, run against a local server that imitates the hub: `resolve`
// answers 302 to a separate storage host (another origin, as the real hub does) with the LFS
// sha256 in X-Linked-Etag, the storage host honours Range, and can drop a connection half-way.
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat, writeFile, mkdir } from "node:fs/promises";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  HashMismatchError,
  HubRequestError,
  ModelUnavailableError,
  ensureModel,
  type FetchProgress,
  type ModelSpec,
} from "../src/index.js";

const blob = randomBytes(256 * 1024 + 123);
const blobSha = createHash("sha256").update(blob).digest("hex");
const TOKEN = "hf_test_token";

interface Seen {
  readonly host: "hub" | "storage";
  readonly path: string;
  readonly range?: string;
  readonly authorization?: string;
}
let seen: Seen[] = [];
/** When set, the storage host sends this many bytes of the next full-body answer, then cuts the connection. */
let dropAfter: number | undefined;

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; origin: string }> {
  const server = createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })),
  );
}

let hub: { server: Server; origin: string };
let storage: { server: Server; origin: string };
const scratch = await mkdtemp(join(tmpdir(), "emosteer-hub-"));

beforeAll(async () => {
  storage = await listen((req, res) => {
    seen.push({
      host: "storage",
      path: req.url ?? "",
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const start = match ? Number(match[1]) : 0;
    if (start >= blob.length) {
      res.writeHead(416, { "content-range": `bytes */${blob.length}` }).end();
      return;
    }
    const body = blob.subarray(start);
    res.writeHead(match ? 206 : 200, {
      "content-length": String(body.length),
      "accept-ranges": "bytes",
      ...(match ? { "content-range": `bytes ${start}-${blob.length - 1}/${blob.length}` } : {}),
    });
    if (dropAfter !== undefined) {
      const cut = dropAfter;
      dropAfter = undefined;
      res.write(body.subarray(0, cut), () => res.destroy());
      return;
    }
    res.end(body);
  });
  hub = await listen((req, res) => {
    seen.push({ host: "hub", path: req.url ?? "", ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const url = req.url ?? "";
    if (url === "/org/model-GGUF/resolve/main/model.gguf" || url === "/org/model-GGUF/resolve/v1.0/model.gguf") {
      res
        .writeHead(302, {
          location: `${storage.origin}/lfs/${blobSha}`,
          "x-linked-etag": `"${blobSha}"`,
          "x-linked-size": String(blob.length),
        })
        .end();
    } else if (url === "/org/gated-GGUF/resolve/main/model.gguf") {
      if (req.headers.authorization !== `Bearer ${TOKEN}`)
        res.writeHead(401, { "content-type": "application/json" }).end('{"error":"Access to model org/gated-GGUF is restricted."}');
      else res.writeHead(302, { location: `${storage.origin}/lfs/${blobSha}`, "x-linked-etag": `"${blobSha}"` }).end();
    } else if (url === "/org/unsigned-GGUF/resolve/main/model.gguf") {
      res.writeHead(302, { location: `${storage.origin}/lfs/${blobSha}` }).end();
    } else {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"Entry not found"}');
    }
  });
  process.env.HF_ENDPOINT = hub.origin;
});

afterAll(async () => {
  delete process.env.HF_ENDPOINT;
  await Promise.all([hub, storage].map(({ server }) => new Promise((resolve) => server.close(resolve))));
  await rm(scratch, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
  dropAfter = undefined;
});

let specCount = 0;
function hubSpec(repo: string, extra: { sha256?: string; revision?: string } = {}): ModelSpec {
  return {
    id: `hub-test-${++specCount}`,
    family: "Test",
    displayName: "hub test",
    architecture: "llama",
    instruct: true,
    parameters: "0",
    quantization: "F32",
    sources: [{ kind: "huggingface", repo, file: "model.gguf", ...extra }],
  };
}

const cacheDir = join(scratch, "cache");

describe("Hugging Face downloads (local imitation of the hub, through HF_ENDPOINT)", () => {
  it("follows the redirect, verifies the hub's sha256, caches as <cache>/models/<id>/<file> and serves the cache afterwards", async () => {
    const spec = hubSpec("org/model-GGUF");
    const events: FetchProgress[] = [];
    const model = await ensureModel(spec, { cacheDir, onProgress: (p) => events.push(p) });
    expect(model.path).toBe(join(cacheDir, "models", spec.id, "model.gguf"));
    expect(model.sha256).toBe(blobSha);
    expect(Buffer.compare(await readFile(model.path), blob)).toBe(0);
    expect((await readFile(`${model.path}.sha256`, "utf8")).trim()).toBe(blobSha);
    expect(await readdir(join(cacheDir, "models", spec.id))).toEqual(["model.gguf", "model.gguf.sha256"]);
    expect(seen.map((s) => s.host)).toEqual(["hub", "storage"]);
    expect(events.at(-1)).toMatchObject({ stage: "download", bytes: blob.length, totalBytes: blob.length });

    seen = [];
    const again: FetchProgress[] = [];
    const cached = await ensureModel(spec, { cacheDir, onProgress: (p) => again.push(p) });
    expect(cached.path).toBe(model.path);
    expect(again.map((e) => e.stage)).toEqual(["cached"]);
    expect(seen).toEqual([]);
  });

  it("asks for the revision the registry pins", async () => {
    const model = await ensureModel(hubSpec("org/model-GGUF", { revision: "v1.0", sha256: blobSha }), { cacheDir });
    expect(model.sha256).toBe(blobSha);
    expect(seen[0]!.path).toBe("/org/model-GGUF/resolve/v1.0/model.gguf");
  });

  it("resumes a dropped connection with a Range request and ends with the whole, verified file", async () => {
    dropAfter = 100_000;
    const model = await ensureModel(hubSpec("org/model-GGUF", { sha256: blobSha }), { cacheDir });
    expect(Buffer.compare(await readFile(model.path), blob)).toBe(0);
    const ranges = seen.filter((s) => s.host === "storage").map((s) => s.range);
    expect(ranges[0]).toBeUndefined();
    expect(ranges.length).toBeGreaterThanOrEqual(2);
    const resumedFrom = Number(/^bytes=(\d+)-$/.exec(ranges.at(-1) ?? "")?.[1]);
    expect(resumedFrom).toBeGreaterThan(0);
    expect(resumedFrom).toBeLessThanOrEqual(100_000);
  });

  it("resumes from the .partial file an earlier run left behind", async () => {
    const spec = hubSpec("org/model-GGUF", { sha256: blobSha });
    const dir = join(cacheDir, "models", spec.id);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "model.gguf.partial"), blob.subarray(0, 50_000));
    const model = await ensureModel(spec, { cacheDir });
    expect(Buffer.compare(await readFile(model.path), blob)).toBe(0);
    expect(seen.filter((s) => s.host === "storage").map((s) => s.range)).toEqual(["bytes=50000-"]);
  });

  it("refuses a file whose sha256 differs from the registry's, and keeps nothing of it", async () => {
    const spec = hubSpec("org/model-GGUF", { sha256: "0".repeat(64) });
    const error = await ensureModel(spec, { cacheDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HashMismatchError);
    expect((error as Error).message).toContain(blobSha);
    expect(await readdir(join(cacheDir, "models", spec.id))).toEqual([]);
  });

  it("refuses a file that no sha256 vouches for (no registry hash, no X-Linked-Etag)", async () => {
    const error = await ensureModel(hubSpec("org/unsigned-GGUF"), { cacheDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect((error as Error).message).toMatch(/no sha256.*refusing an unverifiable file/);
  });

  it("says what a 404 means", async () => {
    const error = await ensureModel(hubSpec("org/missing-GGUF"), { cacheDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect((error as Error).message).toMatch(/HTTP 404: no such repository, revision or file/);
  });

  it("says what a 401 means, and sends HF_TOKEN to the hub only, never to the storage host", async () => {
    const refused = await ensureModel(hubSpec("org/gated-GGUF"), { cacheDir }).catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(/HTTP 401: the repository is gated or private: set HF_TOKEN/);

    process.env.HF_TOKEN = TOKEN;
    try {
      seen = [];
      const model = await ensureModel(hubSpec("org/gated-GGUF"), { cacheDir });
      expect(model.sha256).toBe(blobSha);
      expect(seen.find((s) => s.host === "hub")?.authorization).toBe(`Bearer ${TOKEN}`);
      expect(seen.filter((s) => s.host === "storage").every((s) => s.authorization === undefined)).toBe(true);
    } finally {
      delete process.env.HF_TOKEN;
    }
  });

  it("is refused outright with HF_HUB_OFFLINE=1", async () => {
    process.env.HF_HUB_OFFLINE = "1";
    try {
      const error = await ensureModel(hubSpec("org/model-GGUF"), { cacheDir }).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/HF_HUB_OFFLINE=1/);
      expect(seen).toEqual([]);
    } finally {
      delete process.env.HF_HUB_OFFLINE;
    }
  });

  it("exports the error class a 404 carries", async () => {
    const { downloadHubFile } = await import("../src/index.js");
    const target = join(scratch, "direct", "x.gguf");
    const error = await downloadHubFile({ url: `${hub.origin}/org/missing-GGUF/resolve/main/x.gguf`, target }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubRequestError);
    expect((error as HubRequestError).status).toBe(404);
    expect(await stat(target).catch(() => undefined)).toBeUndefined();
  });
});
