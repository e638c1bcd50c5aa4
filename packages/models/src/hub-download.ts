import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { pipeline } from "node:stream/promises";
import { AbortedError, EmosteerError } from "@emosteer/core";
import { HashMismatchError } from "./errors.js";

/** The hub's default address; `HF_ENDPOINT` overrides it, as the Hugging Face clients do. */
export const DEFAULT_HUB_ENDPOINT = "https://huggingface.co";

/** Where hub files are fetched from: the `endpoint` option, else `$HF_ENDPOINT`, else the public hub. */
export function hubEndpoint(endpoint?: string): string {
  return (endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, "");
}

/** The hub's download address of one file: `<endpoint>/<repo>/resolve/<revision>/<file>`. */
export function hubFileUrl(endpoint: string, repo: string, revision: string, file: string): string {
  const path = file.split("/").map(encodeURIComponent).join("/");
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

export interface HubDownload {
  readonly url: string;
  /** Final location; the bytes land in `<target>.partial` first and are renamed once verified. */
  readonly target: string;
  /** Expected sha256 (the registry's). Without one, the hub's own `X-Linked-Etag` (the LFS sha256) is required. */
  readonly sha256?: string;
  /**
   * Accept a file with no known sha256, because the caller pins a product derived from it instead
   * (`emosteer data fetch` pins the transformed data files, not the originals). Default false.
   */
  readonly verifiedByCaller?: boolean;
  /** What to tell the user when the host cannot be reached; defaults to the model fetcher's advice. */
  readonly unreachableHint?: string;
  /** Bearer token for gated or private repositories; defaults to `$HF_TOKEN`. */
  readonly token?: string;
  readonly signal?: AbortSignal;
  /** How many times a dropped connection is resumed with a `Range` request before giving up. */
  readonly retries?: number;
  readonly onProgress?: (bytes: number, totalBytes: number | undefined) => void;
}

/** The hub answered with an HTTP status that no retry will change (404, 401, 403, …). */
export class HubRequestError extends EmosteerError {
  constructor(
    readonly url: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Downloads one hub file to `target`: follows the hub's redirects, resumes a dropped connection
 * (and a `.partial` file left by an earlier run) with a `Range` request, and renames the file into
 * place only once its sha256 matches. Returns the sha256.
 */
export async function downloadHubFile(download: HubDownload): Promise<string> {
  const { url, target, signal } = download;
  const partial = `${target}.partial`;
  const token = download.token ?? process.env.HF_TOKEN;
  const retries = download.retries ?? 5;
  await mkdir(dirname(target), { recursive: true });
  let expected = download.sha256;
  let failures = 0;
  for (;;) {
    if (signal?.aborted) throw new AbortedError(`Downloading ${url}`);
    const have = (await stat(partial).catch(() => undefined))?.size ?? 0;
    const headers: Record<string, string> = { "user-agent": "emosteer" };
    if (token) headers.authorization = `Bearer ${token}`;
    if (have > 0) headers.range = `bytes=${have}-`;
    let response: Response;
    try {
      const got = await fetchFollowingRedirects(url, headers, signal);
      response = got.response;
      expected ??= got.linkedSha256;
    } catch (error) {
      if (signal?.aborted) throw new AbortedError(`Downloading ${url}`);
      if (++failures > retries)
        throw new EmosteerError(
          `cannot reach ${url} (${(error as Error).message}); ${download.unreachableHint ?? "without internet use a PyPI or local source"}`,
        );
      continue;
    }
    if (response.status === 416 && have > 0) {
      // The partial file is already whole (or longer than the file): check it as it is.
      await response.body?.cancel();
      return finish(partial, target, expected, url);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw statusError(url, response.status, Boolean(token));
    }
    if (!expected && !download.verifiedByCaller) {
      await response.body?.cancel();
      throw new EmosteerError(
        `${url} carries no sha256 (no X-Linked-Etag) and the registry gives none: refusing an unverifiable file; add its sha256 to the registry source`,
      );
    }
    const resumed = response.status === 206 && have > 0;
    if (!resumed) await rm(partial, { force: true });
    const offset = resumed ? have : 0;
    const length = Number(response.headers.get("content-length") ?? "") || undefined;
    const total = length !== undefined ? offset + length : undefined;
    let bytes = offset;
    // Chunks are written one by one and awaited, so every byte received before a drop is on disk
    // and the next attempt's Range starts right after it.
    const file = await open(partial, resumed ? "a" : "w");
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        await file.write(chunk);
        bytes += chunk.length;
        download.onProgress?.(bytes, total);
      }
    } catch (error) {
      if (signal?.aborted) throw new AbortedError(`Downloading ${url}`);
      if (++failures > retries)
        throw new EmosteerError(
          `${url}: the connection dropped ${failures} times (${(error as Error).message}); run again to resume from ${partial}`,
        );
      continue;
    } finally {
      await file.close();
    }
    if (total !== undefined && bytes < total) {
      if (++failures > retries)
        throw new EmosteerError(`${url}: got ${bytes} of ${total} bytes ${failures} times; run again to resume from ${partial}`);
      continue;
    }
    return finish(partial, target, expected, url);
  }
}

async function finish(partial: string, target: string, expected: string | undefined, url: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(partial, { highWaterMark: 1 << 20 }), hash);
  const digest = hash.digest("hex");
  if (expected && digest !== expected) {
    // A wrong file is never kept, not even as a partial to resume from.
    await rm(partial, { force: true });
    throw new HashMismatchError(url, expected, digest);
  }
  await rename(partial, target);
  await writeFile(`${target}.sha256`, `${digest}\n`);
  return digest;
}

/**
 * Follows redirects by hand, because the hub's metadata rides on the redirect itself: the resolve
 * answer (302 to the storage host) carries `X-Linked-Etag`, which the final response does not. The
 * token is sent to the hub's own host only, never to the storage host it redirects to.
 */
async function fetchFollowingRedirects(
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<{ response: Response; linkedSha256?: string }> {
  const origin = new URL(url).origin;
  let current = url;
  let linked: string | undefined;
  for (let hop = 0; hop <= 10; hop++) {
    const sent = new URL(current).origin === origin ? headers : withoutAuthorization(headers);
    const response = await fetch(current, { headers: sent, redirect: "manual", ...(signal ? { signal } : {}) });
    linked ??= linkedSha256(response);
    const location = response.headers.get("location");
    if (response.status < 300 || response.status >= 400 || !location) return { response, ...(linked ? { linkedSha256: linked } : {}) };
    await response.body?.cancel();
    current = new URL(location, current).href;
  }
  throw new EmosteerError(`${url}: more than 10 redirects`);
}

function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  const { authorization: _dropped, ...rest } = headers;
  return rest;
}

/** The hub sends the LFS object's sha256 as `X-Linked-Etag` on resolve requests. */
function linkedSha256(response: Response): string | undefined {
  const etag = response.headers.get("x-linked-etag") ?? "";
  const value = etag.replace(/^W\//, "").replace(/"/g, "").toLowerCase();
  return /^[0-9a-f]{64}$/.test(value) ? value : undefined;
}

function statusError(url: string, status: number, hadToken: boolean): HubRequestError {
  if (status === 401 || status === 403) {
    const what = hadToken
      ? "the token in HF_TOKEN is not allowed to read it (accept the model's licence on its hub page, or check the token's scope)"
      : "the repository is gated or private: set HF_TOKEN to a hub access token (and accept the model's licence on its hub page)";
    return new HubRequestError(url, status, `${url} answered HTTP ${status}: ${what}`);
  }
  if (status === 404) {
    return new HubRequestError(
      url,
      status,
      `${url} answered HTTP 404: no such repository, revision or file; check the registry source (repo, file, revision) or HF_ENDPOINT`,
    );
  }
  return new HubRequestError(url, status, `${url} answered HTTP ${status}`);
}
