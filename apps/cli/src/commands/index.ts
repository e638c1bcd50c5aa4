import type { Command } from "./command.js";
import { models } from "./models.js";

export const COMMANDS: Readonly<Record<string, Command>> = { models };
