import { runJudgeCommand } from "@emosteer/eval";
import type { Command } from "./command.js";

export const judge: Command = {
  summary: "classify a TSV or JSONL file of texts with the emotion judge (--in FILE [--out FILE] [--judge v1|v2] [--judge-file FILE])",
  run: (argv) => runJudgeCommand(argv),
};
