/**
 * Structured JSON log lines on stderr (stdout stays free for CLI output).
 * Secrets must never be passed in fields: callers log ids, never tokens or passwords.
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  readonly level: LogLevel;
}

export interface LoggerOptions {
  /** Minimum level written. Default "info". */
  level?: LogLevel;
  /** Where lines go. Default: process.stderr. Tests pass a collector. */
  write?: (line: string) => void;
  /** Fields added to every line. */
  base?: LogFields;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? "info";
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const base = opts.base ?? {};
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (rank[lvl] < rank[level]) return;
    const rec: LogFields = { ts: new Date().toISOString(), level: lvl, msg, ...base, ...fields };
    if (rec.err instanceof Error) {
      const e = rec.err as Error;
      rec.err = { name: e.name, message: e.message, stack: e.stack };
    }
    write(JSON.stringify(rec));
  };
  return {
    level,
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ level, write, base: { ...base, ...fields } }),
  };
}
