import { parseArgs, type ParseArgsConfig } from "node:util";
import { KefuError } from "../errors/kefu-error";

/** A CLI subcommand. Adding one = one file in src/cli/commands/ plus one line in its index. */
export interface Command {
  name: string;
  summary: string;
  /** Full help text shown by `kefu <name> --help`. */
  usage: string;
  /** Returns the process exit code. */
  run(argv: string[]): Promise<number>;
}

export class UsageError extends KefuError {
  constructor(message: string) {
    super("usage", 2, message);
  }
}

/** node:util parseArgs with usage errors instead of TypeErrors. */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
}

/** Shared -c/--config flag. */
export const configFlag = { config: { type: "string", short: "c" } } as const;
