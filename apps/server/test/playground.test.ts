// The playground in Debian's headless Chromium against the real server: the sliders render (checked
// on the screenshot's pixels), a shared link sets them, and a steered answer streams beside the
// unsteered one; the stop button ends a generation and frees the server's slot.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type EmosteerServer } from "../src/index.js";
import { MODEL_ID, openEngine, type Engine } from "./fixture.js";

const CHROMIUM = "/usr/bin/chromium";
const outputDir = join(dirname(fileURLToPath(import.meta.url)), "../test-output");

let engine: Engine;
let server: EmosteerServer;
let work: string;
let context: BrowserContext;
let page: Page;
const browserLog: string[] = [];

beforeAll(async () => {
  engine = await openEngine();
  server = await startServer({ ...engine, modelId: MODEL_ID, port: 0, log: () => undefined });
  work = await mkdtemp(join(tmpdir(), "emosteer-playground-"));
  context = await chromium.launchPersistentContext(join(work, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
    viewport: { width: 1280, height: 800 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => browserLog.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => browserLog.push(`pageerror: ${error.message}`));
});

afterAll(async () => {
  await context?.close();
  await server?.close();
  await engine?.backend.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("playground (headless Chromium)", () => {
  it("renders a slider per emotion, set from a shared link, and streams a steered answer beside the unsteered one", async () => {
    const settings = new URLSearchParams({ q: "How do I bake bread?", e: "joy:2", seed: "3", t: "0.7", n: "20" });
    await page.goto(`${server.url}/#${settings}`);
    await page.waitForFunction(() => document.body.dataset["ready"] === "true" || document.body.dataset["error"] === "true", null, {
      timeout: 60_000,
    });
    expect(await page.textContent("#status"), browserLog.join("\n")).toBe("");
    const sliders = page.locator("#sliders input[type=range]");
    expect(await sliders.count()).toBe(engine.vectors.size);
    expect(await page.inputValue("#alpha-joy")).toBe("2");
    expect(await page.inputValue("#alpha-fear")).toBe("0");

    // Count how often the steered pane changes while it streams.
    await page.evaluate(() => {
      const target = document.getElementById("steered")!;
      (window as unknown as { updates: number }).updates = 0;
      new MutationObserver(() => (window as unknown as { updates: number }).updates++).observe(target, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    await page.click("#generate");
    await page.waitForFunction(() => document.body.dataset["done"] === "true", null, { timeout: 300_000 });
    await mkdir(outputDir, { recursive: true });
    await page.screenshot({ path: join(outputDir, "playground.png"), fullPage: true });

    const status = (await page.textContent("#status"))!;
    expect(status, browserLog.join("\n")).toMatch(/^done/);
    const unsteered = (await page.textContent("#unsteered"))!;
    const steered = (await page.textContent("#steered"))!;
    console.log(`[playground] ${status}\n  unsteered: ${JSON.stringify(unsteered)}\n  joy +2: ${JSON.stringify(steered)}`);
    expect(unsteered.trim().length).toBeGreaterThan(0);
    expect(steered.trim().length).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as unknown as { updates: number }).updates)).toBeGreaterThan(2);
    expect(await page.textContent("#steered-title")).toBe("Steered: joy +2");

    // The sliders really render: their screenshot has the track, thumbs and labels, not a blank box.
    const png = await page.locator("#sliders").screenshot();
    expect(await distinctColours(page, png)).toBeGreaterThan(20);
  });

  it("a preset moves the sliders and the link; stop ends a generation", async () => {
    await page.selectOption("#preset", "anxious");
    expect(await page.inputValue("#alpha-fear")).toBe("2");
    expect(await page.inputValue("#alpha-joy")).toBe("0");
    expect(new URLSearchParams(new URL(page.url()).hash.slice(1)).get("e")).toBe("fear:2");

    await page.fill("#max-tokens", "300");
    await page.click("#generate");
    await page.waitForFunction(() => (document.getElementById("unsteered")!.textContent ?? "").length > 0, null, { timeout: 120_000 });
    await page.click("#stop");
    await page.waitForFunction(() => document.body.dataset["done"] === "true", null, { timeout: 60_000 });
    expect(await page.textContent("#status")).toBe("stopped");
    for (let i = 0; i < 300 && server.scheduler.running + server.scheduler.queued > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(server.scheduler.running + server.scheduler.queued).toBe(0);
  });
});

/** Distinct colours in a PNG, decoded by the browser itself (no image library in Node). */
async function distinctColours(target: Page, png: Buffer): Promise<number> {
  return target.evaluate(async (base64) => {
    const image = new Image();
    image.src = `data:image/png;base64,${base64}`;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.width;
    canvas.height = image.height;
    const context2d = canvas.getContext("2d")!;
    context2d.drawImage(image, 0, 0);
    const pixels = context2d.getImageData(0, 0, image.width, image.height).data;
    const colours = new Set<number>();
    for (let i = 0; i < pixels.length; i += 4) colours.add((pixels[i]! << 16) | (pixels[i + 1]! << 8) | pixels[i + 2]!);
    return colours.size;
  }, png.toString("base64"));
}
