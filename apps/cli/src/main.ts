#!/usr/bin/env node
import { COMMANDS } from "./commands/index.js";

const USAGE = `emosteer — controllable emotion for language models by Emotion Vectors

Usage: emosteer <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join("\n")}

Run "emosteer <command> --help" for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h") {
    console.log(USAGE);
    return name ? 0 : 1;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`Unknown command "${name}".\n\n${USAGE}`);
    return 2;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`emosteer: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.EMOSTEER_DEBUG) console.error(error);
    process.exit(1);
  },
);
