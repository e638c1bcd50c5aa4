import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Command } from "./command.js";
import { PUBLIC_DATA_SETS, type PublicDataSet, fetchPublicData } from "../public-data.js";
import { progressLine } from "../progress.js";
import { UsageError } from "../usage-error.js";

const HELP = `Usage: emosteer data fetch [--out DIR] [--only goemotions,isear,nrc]

Gets the public labelled data the judge trains on into the folder the project reads
(default: $EMOSTEER_DATA_DIR, else ../shared/data beside the repository).
  goemotions  downloaded from Google Research's GitHub (CC BY 4.0; EMOSTEER_DATA_MIRROR replaces
              https://raw.githubusercontent.com/google-research/google-research/master), mapped onto
              Ekman's six + neutral, sha256-checked, written atomically
  isear, nrc  not redistributable by us: prints where to get the file, where to put it and its
              sha256, and verifies a file you placed
Exit status 0 when every requested set is in place and verified, 1 otherwise.`;

/** The repository root: this file is apps/cli/{src,dist}/commands/data.{ts,js}. */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");

export const data: Command = {
  summary: "fetch or verify the public training data (GoEmotions, ISEAR, NRC)",
  async run(argv) {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { out: { type: "string" }, only: { type: "string" }, help: { type: "boolean" } },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (positionals[0] !== "fetch" || positionals.length > 1)
      throw new UsageError(`expected "emosteer data fetch"; run "emosteer data --help"`);
    const only = values.only?.split(",").map((s) => s.trim()) ?? [...PUBLIC_DATA_SETS];
    const unknown = only.filter((s) => !PUBLIC_DATA_SETS.includes(s as PublicDataSet));
    if (unknown.length > 0) throw new UsageError(`--only ${unknown.join(",")}: the sets are ${PUBLIC_DATA_SETS.join(", ")}`);
    const out = values.out ?? process.env.EMOSTEER_DATA_DIR ?? join(repoRoot, "..", "shared", "data");
    const status = await fetchPublicData({
      out,
      only: only as PublicDataSet[],
      onProgress: (line) => progressLine(line),
      print: (line) => {
        progressLine("");
        console.log(line);
      },
    });
    return Object.values(status).every((s) => s === "ok") ? 0 : 1;
  },
};
