// The same backend in a real headless Chromium: the demo page (browser/) loads the exported SmolLM2
// through transformers.js on onnxruntime-web's WASM backend, every file from localhost. fp32, not
// 4-bit: onnxruntime-web's WASM MatMulNBits is ~3x slower than its fp32 MatMul here.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeVectorFile } from "@emosteer/core";
import { startDemoServer, type DemoServer } from "../browser/server.js";
import { createTransformersBackend } from "../src/index.js";
import { exportedModelDir } from "./exported-model.js";
import { CHROMIUM } from "./global-setup.js";
import { joyVector } from "./joy-vector.js";

const outputDir = join(dirname(fileURLToPath(import.meta.url)), "../test-output");
/** A useful α under net-shift injection (1 = the measured shift), as the page's default. */
const ALPHA = 1.5;
const TOKENS = 20;

let work: string;
let server: DemoServer;
let context: BrowserContext;
let page: Page;
const browserLog: string[] = [];
const requested: string[] = [];

beforeAll(async () => {
  const modelDir = await exportedModelDir("fp32");
  work = await mkdtemp(join(tmpdir(), "emosteer-browser-"));
  // The vector file, extracted in Node on the same export.
  const node = await createTransformersBackend({ modelDir });
  try {
    const joy = await joyVector(node);
    await writeFile(join(work, "joy.gguf"), encodeVectorFile(joy));
  } finally {
    await node.dispose();
  }
  server = await startDemoServer({ modelDir, vectors: { joy: join(work, "joy.gguf") } });
  context = await chromium.launchPersistentContext(join(work, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => browserLog.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => browserLog.push(`pageerror: ${error.message}`));
  page.on("request", (request) => requested.push(request.url()));
});

afterAll(async () => {
  await context?.close();
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("browser demo (headless Chromium, WASM)", () => {
  it("produces a steered completion that differs from α = 0, from localhost only", async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset["ready"] === "true" || document.body.dataset["error"] === "true", null, {
      timeout: 600_000,
    });
    expect(await page.textContent("#status"), browserLog.join("\n")).toMatch(/model loaded/);
    await page.selectOption("#emotion", "joy");
    await page.fill("#alpha", String(ALPHA));
    await page.fill("#max-tokens", String(TOKENS));
    await page.click("#generate");
    await page.waitForFunction(
      () => document.body.dataset["done"] === "true" || /^error/.test(document.getElementById("status")!.textContent ?? ""),
      null,
      {
        timeout: 600_000,
      },
    );
    await mkdir(outputDir, { recursive: true });
    await page.screenshot({ path: join(outputDir, "browser-demo.png"), fullPage: true });

    const status = await page.textContent("#status");
    expect(status, browserLog.join("\n")).toMatch(/^done/);
    const baseline = (await page.textContent("#baseline"))!;
    const steered = (await page.textContent("#steered"))!;
    console.log(`[browser] ${status}\n  α = 0: ${JSON.stringify(baseline)}\n  joy α = ${ALPHA}: ${JSON.stringify(steered)}`);
    expect(baseline.trim().length).toBeGreaterThan(0);
    expect(steered.trim().length).toBeGreaterThan(0);
    expect(steered).not.toBe(baseline);
    expect(await page.textContent("#steered-title")).toBe(`joy, α = ${ALPHA}`);
    // onnxruntime-web's wasm and the model came from this server, not a CDN or the hub.
    const origin = server.url.replace(/\/$/, "");
    expect(requested.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith(`blob:${origin}/`))).toEqual([]);
    expect(server.requests).toEqual(
      expect.arrayContaining([
        "/ort/ort-wasm-simd-threaded.asyncify.wasm",
        "/model/onnx/model.onnx",
        "/model/onnx/model.onnx_data",
        "/vectors/joy.gguf",
      ]),
    );
  });
});
