#!/usr/bin/env bun
import { SCHEMA_VERSION } from "../ops/schema";
import { VERSION } from "../version";
import { commands } from "./commands";
import { report } from "./report";

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `kefu ${VERSION} — self-hosted AI customer service`,
    "",
    "Usage: kefu [command] [options]      (no command = serve)",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Options:",
    "  -c, --config <file>  config file (default: ./config.toml if present, else built-in defaults)",
    "  -h, --help           help for kefu or a command",
    "  -v, --version        print the version",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "--version" || argv[0] === "-v" || argv[0] === "version") {
    console.log(`${VERSION} (schema ${SCHEMA_VERSION})`);
    return 0;
  }
  if (argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    console.log(help());
    return 0;
  }
  const named = commands.find((c) => c.name === argv[0]);
  if (argv[0] && !argv[0].startsWith("-") && !named) {
    console.error(`kefu: unknown command "${argv[0]}"\n\n${help()}`);
    return 2;
  }
  const command = named ?? commands.find((c) => c.name === "serve")!;
  const rest = named ? argv.slice(1) : argv;
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    return report(e);
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  // serve keeps running; every other command exits with its code.
  if (code !== -1) process.exit(code);
}
