// A tiny static server for the browser demo: the page, its esbuild bundle, onnxruntime-web's wasm
// files, the exported model folder and the vector files, all from localhost (never a CDN).
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { DemoConfig } from "./demo.js";

const here = dirname(fileURLToPath(import.meta.url));

export interface DemoServerOptions {
  /** Exported model folder (config.json, tokenizer files, onnx/). */
  readonly modelDir: string;
  /** Emotion → vector file path. */
  readonly vectors: Readonly<Record<string, string>>;
  /** Defaults to 0 (any free port). */
  readonly port?: number;
}

export interface DemoServer {
  /** e.g. `http://127.0.0.1:40123/`. */
  readonly url: string;
  /** Every path requested, in order (lets a test check that nothing else was asked for). */
  readonly requests: readonly string[];
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
};

/** Where onnxruntime-web (a dependency of @huggingface/transformers) keeps its wasm builds. */
export function onnxRuntimeWebDist(): string {
  const fromTransformers = createRequire(createRequire(import.meta.url).resolve("@huggingface/transformers"));
  const entry = fromTransformers.resolve("onnxruntime-web");
  return entry.slice(0, entry.lastIndexOf(`${sep}dist${sep}`) + `${sep}dist`.length);
}

/** Bundles the page's script for browsers (transformers.js's web build, workspace packages from source). */
export async function bundleDemo(): Promise<string> {
  const result = await build({
    entryPoints: [join(here, "demo.ts")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["@emosteer/source"],
    logLevel: "error",
  });
  return result.outputFiles[0]!.text;
}

export async function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const bundle = await bundleDemo();
  const ortDir = onnxRuntimeWebDist();
  const modelDir = resolve(options.modelDir);
  const config: DemoConfig = {
    modelUrl: "/model",
    ortUrl: "/ort",
    vectors: Object.fromEntries(Object.keys(options.vectors).map((emotion) => [emotion, `/vectors/${encodeURIComponent(emotion)}.gguf`])),
  };
  const statics: Record<string, () => Promise<{ body: string | Buffer; type: string }>> = {
    "/": async () => ({ body: await readFile(join(here, "index.html")), type: CONTENT_TYPES[".html"]! }),
    "/demo.js": async () => ({ body: bundle, type: CONTENT_TYPES[".js"]! }),
    "/demo-config.json": async () => ({ body: JSON.stringify(config), type: CONTENT_TYPES[".json"]! }),
  };
  const requests: string[] = [];

  const server: Server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    requests.push(
      `${request.method === "GET" ? "" : `${request.method} `}${request.headers.range ? `${request.headers.range} ` : ""}${path}`,
    );
    // Cross-origin isolation lets onnxruntime-web use threads (SharedArrayBuffer).
    response.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    response.setHeader("Cross-Origin-Embedder-Policy", "require-corp");
    response.setHeader("Cache-Control", "no-store");
    const fail = (code: number, text: string) => {
      response.writeHead(code, { "Content-Type": "text/plain" });
      response.end(text);
    };
    const sendFile = async (file: string) => {
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) return fail(404, `not found: ${path}`);
      const type = CONTENT_TYPES[extname(file)] ?? "application/octet-stream";
      // transformers.js asks for `bytes=0-0` to learn a file's size before loading it.
      const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range ?? "");
      if (range && (range[1] || range[2])) {
        const start = range[1] ? Number(range[1]) : Math.max(0, info.size - Number(range[2]));
        const end = range[1] && range[2] ? Math.min(Number(range[2]), info.size - 1) : info.size - 1;
        if (start > end) {
          response.writeHead(416, { "Content-Range": `bytes */${info.size}` });
          return response.end();
        }
        response.writeHead(206, {
          "Content-Type": type,
          "Content-Length": end - start + 1,
          "Content-Range": `bytes ${start}-${end}/${info.size}`,
          "Accept-Ranges": "bytes",
        });
        return createReadStream(file, { start, end }).pipe(response);
      }
      response.writeHead(200, { "Content-Type": type, "Content-Length": info.size, "Accept-Ranges": "bytes" });
      createReadStream(file).pipe(response);
    };
    /** A file inside `root`, never outside it. */
    const inside = (root: string, rest: string) => {
      const file = normalize(join(root, rest));
      return file === root || file.startsWith(root + sep) ? file : null;
    };
    void (async () => {
      const handler = statics[path];
      if (handler) {
        const { body, type } = await handler();
        response.writeHead(200, { "Content-Type": type });
        return response.end(body);
      }
      if (path.startsWith("/model/")) {
        const file = inside(modelDir, path.slice("/model/".length));
        return file ? sendFile(file) : fail(403, "outside the model folder");
      }
      if (path.startsWith("/ort/")) {
        const file = inside(ortDir, path.slice("/ort/".length));
        return file ? sendFile(file) : fail(403, "outside onnxruntime-web");
      }
      const vector = /^\/vectors\/(.+)\.gguf$/.exec(path);
      if (vector && options.vectors[vector[1]!]) return sendFile(resolve(options.vectors[vector[1]!]!));
      return fail(404, `not found: ${path}`);
    })().catch((error: unknown) => fail(500, String(error)));
  });
  await new Promise<void>((done) => server.listen(options.port ?? 0, "127.0.0.1", done));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise<void>((done, fail) => server.close((error) => (error ? fail(error) : done()))),
  };
}
