// `emosteer data fetch` offline: a local HTTP server serves imitation GoEmotions originals (a few
// synthetic rows in the original 28-label format), standing in for GitHub via EMOSTEER_DATA_MIRROR.
// Model-free and network-free.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataMismatchError, MANUAL_SETS, PINNED_SHA256, fetchPublicData, transformGoEmotions } from "../src/public-data.js";
import { runScript } from "./run-script.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const CLI = join(repoRoot, "apps", "cli", "src", "main.ts");
const sharedData = join(repoRoot, "..", "shared", "data");

// GoEmotions' published label list and Ekman grouping (goemotions/data/emotions.txt, ekman_mapping.json).
const EMOTIONS = [
  "admiration",
  "amusement",
  "anger",
  "annoyance",
  "approval",
  "caring",
  "confusion",
  "curiosity",
  "desire",
  "disappointment",
  "disapproval",
  "disgust",
  "embarrassment",
  "excitement",
  "fear",
  "gratitude",
  "grief",
  "joy",
  "love",
  "nervousness",
  "optimism",
  "pride",
  "realization",
  "relief",
  "remorse",
  "sadness",
  "surprise",
  "neutral",
].join("\n");
const EKMAN_MAPPING = JSON.stringify({
  anger: ["anger", "annoyance", "disapproval"],
  disgust: ["disgust"],
  fear: ["fear", "nervousness"],
  joy: ["joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism", "relief", "pride", "admiration", "desire", "caring"],
  sadness: ["sadness", "disappointment", "embarrassment", "grief", "remorse"],
  surprise: ["surprise", "realization", "confusion", "curiosity"],
});

// Imitation originals: label ids in the 28-label order; the expected Ekman rows written by hand.
const LATIN1_BYTE = Buffer.from([0xe9]); // not valid UTF-8 alone: must pass through unchanged
const TRAIN = Buffer.concat([
  Buffer.from("The kettle is fine now.\t27\tabc001\n"), // neutral -> 4
  Buffer.from("Why would anyone do that?!\t2,3\tabc002\n"), // anger + annoyance -> 0 (merged)
  Buffer.from("So sorry, but I love it 😅\t25,18,0\tabc003\n"), // sadness, love, admiration -> 3,5 (sorted)
  Buffer.from("Gross. I'm scared too\t14,11\tabc004\n"), // fear, disgust -> 1,2
  Buffer.from("Wait what \\xEF\\xBB\\xBF\t26,4,27\tabc005\n"), // surprise, approval, neutral -> 3,4,6
  Buffer.from("caf"),
  LATIN1_BYTE,
  Buffer.from("\t19\tabc006\n"), // nervousness -> fear 2
]);
const DEV = Buffer.from("Oh no.\t16\tdev001\nWow!\t22,13\tdev002\n"); // grief -> 5; realization, excitement -> 3,6
const EXPECTED_TRAIN = Buffer.concat([
  Buffer.from("The kettle is fine now.\t4\tabc001\n"),
  Buffer.from("Why would anyone do that?!\t0\tabc002\n"),
  Buffer.from("So sorry, but I love it 😅\t3,5\tabc003\n"),
  Buffer.from("Gross. I'm scared too\t1,2\tabc004\n"),
  Buffer.from("Wait what \\xEF\\xBB\\xBF\t3,4,6\tabc005\n"),
  Buffer.from("caf"),
  LATIN1_BYTE,
  Buffer.from("\t2\tabc006\n"),
]);
const EXPECTED_DEV = Buffer.from("Oh no.\t5\tdev001\nWow!\t3,6\tdev002\n");
const EXPECTED_LABELS = Buffer.from("anger\ndisgust\nfear\njoy\nneutral\nsadness\nsurprise");

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");
/** Pins matching the imitation data (the real pins are those of the real transformed files). */
const TEST_PINS = {
  ...PINNED_SHA256,
  "goemotions-ekman/train.tsv": sha(EXPECTED_TRAIN),
  "goemotions-ekman/dev.tsv": sha(EXPECTED_DEV),
};

let server: Server;
let mirror: string;
let mirrorNoDev: string;
const scratch = mkdtempSync(join(tmpdir(), "emosteer-data-fetch-"));

beforeAll(async () => {
  const files: Record<string, Buffer> = {
    "/full/goemotions/data/train.tsv": TRAIN,
    "/full/goemotions/data/dev.tsv": DEV,
    "/full/goemotions/data/emotions.txt": Buffer.from(EMOTIONS),
    "/full/goemotions/data/ekman_mapping.json": Buffer.from(EKMAN_MAPPING),
    "/nodev/goemotions/data/train.tsv": TRAIN,
    "/nodev/goemotions/data/emotions.txt": Buffer.from(EMOTIONS),
    "/nodev/goemotions/data/ekman_mapping.json": Buffer.from(EKMAN_MAPPING),
  };
  server = createServer((req, res) => {
    const body = files[req.url ?? ""];
    if (!body) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-length": body.length, "content-type": "text/plain" }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  mirror = `http://127.0.0.1:${port}/full`;
  mirrorNoDev = `http://127.0.0.1:${port}/nodev`;
});

afterAll(async () => {
  await new Promise((ok) => server.close(ok));
  rmSync(scratch, { recursive: true, force: true });
});

function freshOut(name: string): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe("emosteer data fetch (offline, local mirror)", () => {
  it("downloads, maps onto Ekman + neutral byte for byte, and replaces a stale folder", async () => {
    const out = freshOut("ok");
    mkdirSync(join(out, "goemotions-ekman"));
    writeFileSync(join(out, "goemotions-ekman", "train.tsv"), "stale\n");
    const progress: string[] = [];
    const status = await fetchPublicData({ out, only: ["goemotions"], mirror, pins: TEST_PINS, onProgress: (l) => progress.push(l) });
    expect(status).toEqual({ goemotions: "ok" });
    expect(readFileSync(join(out, "goemotions-ekman", "train.tsv")).equals(EXPECTED_TRAIN)).toBe(true);
    expect(readFileSync(join(out, "goemotions-ekman", "dev.tsv")).equals(EXPECTED_DEV)).toBe(true);
    expect(readFileSync(join(out, "goemotions-ekman", "labels.txt")).equals(EXPECTED_LABELS)).toBe(true);
    expect(readdirSync(out)).toEqual(["goemotions-ekman"]); // no temporary folder left
    expect(readdirSync(join(out, "goemotions-ekman")).sort()).toEqual(["dev.tsv", "labels.txt", "train.tsv"]);
    expect(progress.some((l) => l.includes(`${mirror}/goemotions/data/train.tsv`))).toBe(true);
    // A second run finds the verified files and downloads nothing.
    const again: string[] = [];
    await fetchPublicData({
      out,
      only: ["goemotions"],
      mirror,
      pins: TEST_PINS,
      print: (l) => again.push(l),
      onProgress: (l) => again.push(l),
    });
    expect(again.join("\n")).toContain("already holds the pinned files");
    expect(again.join("\n")).not.toContain("downloading");
  });

  it("the labels.txt it writes is the pinned one (the real shared/ labels.txt)", () => {
    expect(sha(EXPECTED_LABELS)).toBe(PINNED_SHA256["goemotions-ekman/labels.txt"]);
  });

  it("refuses transformed files whose sha256 is not the pinned one, and writes nothing", async () => {
    const out = freshOut("mismatch");
    const run = fetchPublicData({ out, only: ["goemotions"], mirror }); // the real pins
    await expect(run).rejects.toBeInstanceOf(DataMismatchError);
    await expect(run).rejects.toThrow(`expected ${PINNED_SHA256["goemotions-ekman/train.tsv"]}`);
    expect(readdirSync(out)).toEqual([]);
  });

  it("a 404 names the URL and the mirror setting, and leaves nothing behind", async () => {
    const out = freshOut("404");
    await expect(fetchPublicData({ out, only: ["goemotions"], mirror: mirrorNoDev, pins: TEST_PINS })).rejects.toThrow(
      new RegExp(`${mirrorNoDev}/goemotions/data/dev.tsv answered HTTP 404: .*EMOSTEER_DATA_MIRROR`),
    );
    expect(readdirSync(out)).toEqual([]);
  });

  it("for ISEAR and NRC prints where to get the file, where to put it and its sha256, then verifies a placed file", async () => {
    const out = freshOut("manual");
    const lines: string[] = [];
    const status = await fetchPublicData({ out, only: ["isear", "nrc"], print: (l) => lines.push(l) });
    expect(status).toEqual({ isear: "missing", nrc: "missing" });
    const text = lines.join("\n");
    for (const set of ["isear", "nrc"] as const) {
      const info = MANUAL_SETS[set];
      expect(text).toContain(info.where);
      expect(text).toContain(join(out, info.file));
      expect(text).toContain(PINNED_SHA256[info.file]);
    }
    expect(text).toContain("non-commercial");
    expect(existsSync(join(out, "isear"))).toBe(false); // instructions only, nothing created

    mkdirSync(join(out, "isear"));
    writeFileSync(join(out, MANUAL_SETS.isear.file), "MYKEY|Field1|SIT|\n");
    const wrong: string[] = [];
    expect(await fetchPublicData({ out, only: ["isear"], print: (l) => wrong.push(l) })).toEqual({ isear: "mismatch" });
    expect(wrong.join("\n")).toContain(`expected ${PINNED_SHA256[MANUAL_SETS.isear.file]}`);
    const pins = { ...PINNED_SHA256, [MANUAL_SETS.isear.file]: sha("MYKEY|Field1|SIT|\n") };
    expect(await fetchPublicData({ out, only: ["isear"], pins })).toEqual({ isear: "ok" });
  });

  it("the command: instructions on stdout, progress and the refusal on stderr, exit 1; a wrong --only is a usage error", async () => {
    const out = freshOut("cli");
    const manual = await runScript(CLI, ["data", "fetch", "--only", "nrc", "--out", out], repoRoot);
    expect(manual.code).toBe(1);
    expect(manual.stdout).toContain(PINNED_SHA256[MANUAL_SETS.nrc.file]);
    const refused = await runScript(CLI, ["data", "fetch", "--only", "goemotions", "--out", out], repoRoot, {
      EMOSTEER_DATA_MIRROR: mirror,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("sha256");
    expect(refused.stderr).toContain("Nothing was written");
    expect(refused.stdout).toBe("");
    expect(readdirSync(out)).toEqual([]);
    const usage = await runScript(CLI, ["data", "fetch", "--only", "emobank"], repoRoot);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("goemotions, isear, nrc");
  });
});

describe.skipIf(!existsSync(join(sharedData, "goemotions-ekman", "dev.tsv")))("transform against the shared copy", () => {
  // The fine label ids of the first 60 rows of the original goemotions/data/dev.tsv, transcribed from
  // Google Research's repository (the text and comment id columns are unchanged by the transform,
  // so they are taken from the shared copy). The full originals cannot be downloaded on this machine.
  const FINE = (
    "27|4,27|25|4,27|20|15|2|27|20|10|18|12,22|16|27|1,3,25|2,3|25|27|27|3,10|9|0|10|5,27|27|7,24|3|27|0,15|27|" +
    "17|14|27|27|24|25|27|10|1|15|18|15|24|7|27|3,4|14|27|8|7|27|24|4|7|27|13|1,6,7,24|14|6|4"
  ).split("|");

  it("reproduces the first 60 rows of shared dev.tsv byte for byte", () => {
    const shared = readFileSync(join(sharedData, "goemotions-ekman", "dev.tsv"), "latin1")
      .split("\n")
      .slice(0, FINE.length);
    const original = shared.map((row, i) => {
      const [text, , id] = row.split("\t");
      return `${text}\t${FINE[i]}\t${id}\n`;
    });
    expect(transformGoEmotions(original.join(""), EMOTIONS, EKMAN_MAPPING, "dev.tsv")).toBe(shared.map((r) => `${r}\n`).join(""));
  });
});
