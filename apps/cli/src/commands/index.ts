import type { Command } from "./command.js";
import { calibrate } from "./calibrate.js";
import { data } from "./data.js";
import { demo } from "./demo.js";
import { extract } from "./extract.js";
import { generate } from "./generate.js";
import { judge } from "./judge.js";
import { models } from "./models.js";
import { serve } from "./serve.js";

export const COMMANDS: Readonly<Record<string, Command>> = { calibrate, data, demo, extract, generate, judge, models, serve };
