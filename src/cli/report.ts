import { ConfigError } from "../config/load";
import { KefuError } from "../errors/kefu-error";
import { UsageError } from "./command";

/** One line on stderr, never a stack trace, and an exit code scripts can branch on. */
export function report(e: unknown): number {
  if (e instanceof UsageError) {
    console.error(`kefu: ${e.message} (see kefu --help)`);
    return 2;
  }
  if (e instanceof ConfigError) {
    console.error(`kefu: ${e.message}`);
    return 2;
  }
  if (e instanceof KefuError) {
    console.error(`kefu: ${e.message}`);
    return 1;
  }
  console.error(`kefu: unexpected error: ${(e as Error)?.message ?? String(e)}`);
  if (process.env.KEFU_DEBUG) console.error(e);
  return 1;
}

