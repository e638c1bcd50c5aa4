import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EmosteerError } from "@emosteer/core";
import { HubRequestError, downloadHubFile } from "@emosteer/models";

/**
 * The public labelled data the judge trains on (the files of `../shared/data`), and how a clone
 * without that folder gets it: GoEmotions (CC BY 4.0) is downloaded from Google Research's
 * repository and transformed into exactly the files shared/ holds; ISEAR and the NRC lexicon may
 * not be redistributed by us, so the user places them and we verify them.
 */
export type PublicDataSet = "goemotions" | "isear" | "nrc";
export const PUBLIC_DATA_SETS: readonly PublicDataSet[] = ["goemotions", "isear", "nrc"];

/** The canonical base of the GoEmotions files; `EMOSTEER_DATA_MIRROR` replaces it (same relative paths). */
export const GOEMOTIONS_BASE = "https://raw.githubusercontent.com/google-research/google-research/master";

/** The originals, relative to the base. */
export const GOEMOTIONS_ORIGINALS = {
  train: "goemotions/data/train.tsv",
  dev: "goemotions/data/dev.tsv",
  emotions: "goemotions/data/emotions.txt",
  ekmanMapping: "goemotions/data/ekman_mapping.json",
} as const;

/** sha256 of every file `data fetch` produces or verifies, computed from /work/shared/data (the project's reference copy). */
export const PINNED_SHA256: Readonly<Record<string, string>> = {
  "goemotions-ekman/train.tsv": "bb74d10aec0975674c665205741ba9fe644cd70f682214624997f3770fd9e53f",
  "goemotions-ekman/dev.tsv": "011e6579adc4d9bb2ffd908879b99e1594e7647b262cbb2e1c5c9c1c4d7d8bcc",
  "goemotions-ekman/labels.txt": "5ecd91c315ebf550ac798f06549e35a6ee1fb90866608fd640c24d520dc6aa0c",
  "isear/isear.csv": "370110fff70a1e1d9e23b10cf6db1f64876120fa02276afe5916fbfeb038cdca",
  "nrc-emolex/NRC-Emotion-Lexicon-Wordlevel-v0.92.txt": "914b280025d6ea971381e2766534d152776caf74bc892e72d93c78b3b2afab10",
};

/** Sets the user must place by hand: where to get them and what to put where. */
export const MANUAL_SETS: Readonly<Record<"isear" | "nrc", { file: string; licence: string; where: string; what: string }>> = {
  isear: {
    file: "isear/isear.csv",
    licence:
      "ISEAR (Scherer & Wallbott) is distributed by the Swiss Center for Affective Sciences for research use; we do not redistribute it",
    where: "https://www.unige.ch/cisa/research/materials-and-online-research/research-material/ (the ISEAR databank)",
    what:
      "the |-separated CSV export of the databank with a header row holding the columns MYKEY, Field1 (the emotion) and SIT (the text), Latin-1, 7,666 rows; " +
      "other exports (the .mdb, .sav, re-encoded CSVs) do not match the pinned sha256",
  },
  nrc: {
    file: "nrc-emolex/NRC-Emotion-Lexicon-Wordlevel-v0.92.txt",
    licence:
      "the NRC Word-Emotion Association Lexicon (Mohammad & Turney) is free for research and non-commercial use only; commercial use needs a licence from the NRC",
    where: "https://saifmohammad.com/WebPages/NRC-Emotion-Lexicon.htm (accept the terms, download NRC-Emotion-Lexicon.zip)",
    what: "NRC-Emotion-Lexicon-Wordlevel-v0.92.txt from the zip (word<TAB>category<TAB>0|1, 14,182 words), unchanged",
  },
};

/** The seven GoEmotions-Ekman classes in label-id order (labels.txt): Ekman's six and neutral, alphabetical. */
const EKMAN_LABELS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"] as const;

/**
 * GoEmotions' 28-label rows onto Ekman's six + neutral, as shared/ holds them: each fine label id is
 * mapped by `ekman_mapping.json` (neutral stays neutral), duplicates are merged, ids sorted
 * ascending; text and comment id are kept byte for byte, one row a line, each ending in `\n`.
 * `tsv` may be a Latin-1 "binary" string of UTF-8 bytes: only ASCII is inspected.
 */
export function transformGoEmotions(tsv: string, emotionsTxt: string, ekmanMappingJson: string, source: string): string {
  const fine = emotionsTxt.split(/\r?\n/).filter((l) => l.trim() !== "");
  const mapping = JSON.parse(ekmanMappingJson) as Record<string, string[]>;
  const toEkman = new Map<string, number>([["neutral", EKMAN_LABELS.indexOf("neutral")]]);
  for (const [ekman, members] of Object.entries(mapping)) {
    const at = EKMAN_LABELS.indexOf(ekman as (typeof EKMAN_LABELS)[number]);
    if (at < 0) throw new EmosteerError(`${source}: ekman_mapping.json names "${ekman}", not one of ${EKMAN_LABELS.join(", ")}`);
    for (const m of members) toEkman.set(m, at);
  }
  const fineToEkman = fine.map((name) => {
    const at = toEkman.get(name);
    if (at === undefined) throw new EmosteerError(`${source}: emotion "${name}" of emotions.txt has no Ekman group in ekman_mapping.json`);
    return at;
  });
  const out: string[] = [];
  const lines = tsv.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    // text<TAB>label_ids<TAB>id; the two last tabs delimit, so a stray tab in a text would survive.
    const idTab = line.lastIndexOf("\t");
    const labelTab = line.lastIndexOf("\t", idTab - 1);
    if (labelTab < 0) throw new EmosteerError(`${source}: line ${i + 1} is not text<TAB>label_ids<TAB>id`);
    const ids = line
      .slice(labelTab + 1, idTab)
      .split(",")
      .map((s) => {
        const n = Number(s);
        if (s === "" || !Number.isInteger(n) || n < 0 || n >= fineToEkman.length) {
          throw new EmosteerError(`${source}: line ${i + 1} has label id "${s}", expected 0..${fineToEkman.length - 1}`);
        }
        return fineToEkman[n]!;
      });
    const ekman = [...new Set(ids)].sort((a, b) => a - b);
    out.push(`${line.slice(0, labelTab)}\t${ekman.join(",")}${line.slice(idTab)}\n`);
  }
  return out.join("");
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export interface FetchDataOptions {
  /** The data folder to fill (the one EMOSTEER_DATA_DIR or ../shared/data names). */
  readonly out: string;
  readonly only?: readonly PublicDataSet[];
  /** Base URL replacing {@link GOEMOTIONS_BASE}; defaults to `$EMOSTEER_DATA_MIRROR`. */
  readonly mirror?: string;
  /** Pins to check against; defaults to {@link PINNED_SHA256} (tests pass their own). */
  readonly pins?: Readonly<Record<string, string>>;
  /** Progress lines (stderr in the command). */
  readonly onProgress?: (line: string) => void;
  /** What the user must read (instructions, results: stdout in the command). */
  readonly print?: (line: string) => void;
}

/** Per set: `ok` (in place, verified), `missing` (instructions printed) or `mismatch` (a placed file has the wrong sha256). */
export type SetStatus = "ok" | "missing" | "mismatch";

/** A downloaded or transformed file is not the one pinned: nothing is written. */
export class DataMismatchError extends EmosteerError {}

/**
 * Fills `out` with the requested sets. GoEmotions is downloaded, transformed in a temporary folder
 * beside `out/goemotions-ekman`, checked against the pins, and only then renamed into place (a
 * failure leaves nothing behind). ISEAR and NRC are verified if placed, else explained.
 */
export async function fetchPublicData(options: FetchDataOptions): Promise<Record<PublicDataSet, SetStatus>> {
  const pins = options.pins ?? PINNED_SHA256;
  const only = options.only ?? PUBLIC_DATA_SETS;
  const progress = options.onProgress ?? (() => {});
  const print = options.print ?? (() => {});
  const result = {} as Record<PublicDataSet, SetStatus>;
  await mkdir(options.out, { recursive: true });
  for (const set of only) {
    if (set === "goemotions") {
      await fetchGoEmotions(options.out, options.mirror ?? process.env.EMOSTEER_DATA_MIRROR, pins, progress, print);
      result.goemotions = "ok";
    } else {
      result[set] = await checkManual(options.out, set, pins, print);
    }
  }
  return result;
}

const GOEMOTIONS_OUTPUTS = ["train.tsv", "dev.tsv", "labels.txt"] as const;

async function fetchGoEmotions(
  out: string,
  mirror: string | undefined,
  pins: Readonly<Record<string, string>>,
  progress: (line: string) => void,
  print: (line: string) => void,
): Promise<void> {
  const target = join(out, "goemotions-ekman");
  if (await allMatch(target, pins)) {
    print(`goemotions: ${target} already holds the pinned files`);
    return;
  }
  const base = (mirror ?? GOEMOTIONS_BASE).replace(/\/+$/, "");
  // Same filesystem as the target, so the final rename is atomic; removed whatever happens.
  const work = await mkdtemp(join(out, ".goemotions-fetch-"));
  try {
    const originals: Record<string, string> = {};
    for (const [key, relative] of Object.entries(GOEMOTIONS_ORIGINALS)) {
      const url = `${base}/${relative}`;
      const file = join(work, "originals", relative.split("/").pop()!);
      progress(`goemotions: downloading ${url}`);
      try {
        await downloadHubFile({
          url,
          target: file,
          verifiedByCaller: true, // the transformed files are pinned below
          token: "", // never send a hub token to GitHub or a mirror
          unreachableHint:
            "without access to GitHub, set EMOSTEER_DATA_MIRROR to a server holding the same goemotions/data/ files, or copy goemotions-ekman/ from a machine that has ../shared/data",
          onProgress: (bytes, total) => progress(`goemotions: ${relative} ${bytes}${total ? `/${total}` : ""} bytes`),
        });
      } catch (error) {
        if (error instanceof HubRequestError) {
          throw new EmosteerError(
            `${url} answered HTTP ${error.status}: ` +
              (error.status === 404
                ? "the GoEmotions file is not there; check EMOSTEER_DATA_MIRROR (it must hold goemotions/data/{train.tsv,dev.tsv,emotions.txt,ekman_mapping.json}) or unset it to use GitHub"
                : "the server refused the file; check EMOSTEER_DATA_MIRROR or your network's proxy"),
          );
        }
        throw error;
      }
      // Bytes as Latin-1 (one char a byte): the transform touches only ASCII tabs, digits and
      // commas, so every text byte is written back unchanged, whatever its encoding.
      originals[key] = await readFile(file, "latin1");
    }
    const built = join(work, "goemotions-ekman");
    await mkdir(built);
    const contents: Record<(typeof GOEMOTIONS_OUTPUTS)[number], string> = {
      "train.tsv": transformGoEmotions(
        originals.train!,
        originals.emotions!,
        originals.ekmanMapping!,
        `${base}/${GOEMOTIONS_ORIGINALS.train}`,
      ),
      "dev.tsv": transformGoEmotions(originals.dev!, originals.emotions!, originals.ekmanMapping!, `${base}/${GOEMOTIONS_ORIGINALS.dev}`),
      "labels.txt": EKMAN_LABELS.join("\n"),
    };
    for (const name of GOEMOTIONS_OUTPUTS) {
      const key = `goemotions-ekman/${name}`;
      const bytes = Buffer.from(contents[name], "latin1");
      const digest = sha256(bytes);
      if (digest !== pins[key]) {
        throw new DataMismatchError(
          `goemotions: the transformed ${key} has sha256 ${digest}, expected ${pins[key]}; the originals at ${base} differ from the ones the project was built on ` +
            "(an upstream change or a wrong mirror). Nothing was written; get the files from someone who has ../shared/data, or report it.",
        );
      }
      await writeFile(join(built, name), bytes);
    }
    // Replace an incomplete or stale folder only now that the new one is whole.
    if (existsSync(target)) {
      const old = join(work, "replaced");
      await rename(target, old);
    }
    await rename(built, target);
    print(`goemotions: wrote ${target} (train.tsv, dev.tsv, labels.txt; sha256 verified). GoEmotions: Demszky et al. 2020, CC BY 4.0`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function allMatch(dir: string, pins: Readonly<Record<string, string>>): Promise<boolean> {
  for (const name of GOEMOTIONS_OUTPUTS) {
    const path = join(dir, name);
    if (!existsSync(path) || sha256(await readFile(path)) !== pins[`goemotions-ekman/${name}`]) return false;
  }
  return true;
}

async function checkManual(
  out: string,
  set: "isear" | "nrc",
  pins: Readonly<Record<string, string>>,
  print: (line: string) => void,
): Promise<SetStatus> {
  const info = MANUAL_SETS[set];
  const path = join(out, info.file);
  const expected = pins[info.file];
  if (existsSync(path)) {
    const actual = sha256(await readFile(path));
    if (actual === expected) {
      print(`${set}: ${path} verified (sha256 ${actual})`);
      return "ok";
    }
    print(
      `${set}: ${path} has sha256 ${actual}, expected ${expected}: not the file the project was built on (${info.what}). Replace it and run again.`,
    );
    return "mismatch";
  }
  print(
    `${set}: not downloaded, because ${info.licence}.\n` +
      `  get it from: ${info.where}\n` +
      `  place:       ${info.what}\n` +
      `  at:          ${path}\n` +
      `  sha256:      ${expected}\n` +
      `  then run \`emosteer data fetch --only ${set}\` again to verify it.`,
  );
  return "missing";
}
