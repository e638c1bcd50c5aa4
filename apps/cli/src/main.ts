#!/usr/bin/env node
import { COMMANDS } from "./commands/index.js";
import { UsageError } from "./usage-error.js";

const USAGE = `emosteer — controllable emotion for language models by Emotion Vectors

Usage: emosteer <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join("\n")}

Run "emosteer <command> --help" for a command's options. Exit status: 0 done, 1 failed,
2 the command line was wrong. EMOSTEER_DEBUG=1 prints the stack trace of a failure.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command)
    throw new UsageError(
      `unknown command "${name}"; the commands are ${Object.keys(COMMANDS).join(", ")}. Run "emosteer --help" for usage.`,
    );
  try {
    return await command.run(rest);
  } catch (error) {
    if (isParseArgsError(error))
      throw new UsageError(`${error.message.replace(/\.?$/, ".")} Run "emosteer ${name} --help" for its options.`);
    throw error;
  }
}

/** parseArgs's own errors: an unknown option, a missing value. */
function isParseArgsError(error: unknown): error is TypeError {
  return error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS_");
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // One line naming the problem; the stack trace helps only whoever debugs emosteer itself.
    const message = error instanceof Error ? error.message : String(error);
    console.error(`emosteer: ${message.replace(/\s*\n\s*/g, " ")}`);
    if (process.env.EMOSTEER_DEBUG) console.error(error);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
