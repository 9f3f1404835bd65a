import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Kind, type TObject, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parse as parseToml, TomlError } from "smol-toml";
import { KefuError } from "../errors/kefu-error";
import { allowed } from "./describe";
import { configChecks, configSchema, type KefuConfig } from "./schema";

/** Start-up configuration problem: the CLI prints the one-line message and exits with code 2. */
export class ConfigError extends KefuError {
  constructor(message: string) {
    super("config_invalid", 500, message);
  }
}

export interface LoadConfigOptions {
  /** Explicit config file (`-c`). Must exist. */
  path?: string;
  /** When no path is given, use this file if it exists (default: ./config.toml). */
  fallbackPath?: string;
  /** Environment for KEFU_<SECTION>_<KEY> overrides. Default: process.env. */
  env?: Record<string, string | undefined>;
}

export interface LoadedConfig {
  config: KefuConfig;
  /** The file that was read, or null when running on built-in defaults. */
  file: string | null;
  /** Directory relative paths in the config are resolved against. */
  baseDir: string;
}

const sections = configSchema.properties as Record<string, TObject>;

/** Default value of every key, section by section. */
export function defaultConfig(): KefuConfig {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, section] of Object.entries(sections)) {
    out[name] = {};
    for (const [key, schema] of Object.entries(section.properties)) {
      out[name][key] = structuredClone((schema as TSchema).default);
    }
  }
  return out as KefuConfig;
}

export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  let file: string | null = null;
  if (opts.path) {
    file = resolve(opts.path);
    if (!existsSync(file)) throw new ConfigError(`config file ${file} does not exist (create one with: kefu init)`);
  } else {
    const fallback = resolve(opts.fallbackPath ?? "config.toml");
    if (existsSync(fallback)) file = fallback;
  }

  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    try {
      raw = parseToml(text) as Record<string, unknown>;
    } catch (e) {
      const where = e instanceof TomlError ? ` at line ${e.line}, column ${e.column}` : "";
      const first = String((e as Error).message).split("\n")[0];
      throw new ConfigError(`config file ${file} is not valid TOML${where}: ${first}`);
    }
  }

  const config = mergeDefaults(raw);
  applyEnv(config, opts.env ?? process.env);
  validate(config);
  for (const check of configChecks) {
    const problem = check(config as KefuConfig);
    if (problem) throw new ConfigError(problem);
  }
  return { config: config as KefuConfig, file, baseDir: file ? dirname(file) : process.cwd() };
}

function mergeDefaults(raw: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const out = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
  for (const [name, value] of Object.entries(raw)) {
    if (!(name in sections)) {
      throw new ConfigError(`unknown config section [${name}] (allowed: ${Object.keys(sections).join(", ")})`);
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      throw new ConfigError(`config key ${name} must be a table ([${name}])`);
    }
    const allowedKeys = Object.keys(sections[name].properties);
    // A section whose additionalProperties is a schema takes other keys of that shape ([plugins.<name>] tables).
    const extra = sections[name].additionalProperties;
    for (const [key, v] of Object.entries(value)) {
      if (!allowedKeys.includes(key) && !(typeof extra === "object" && Value.Check(extra, v))) {
        throw new ConfigError(`unknown config key ${name}.${key} (allowed in [${name}]: ${allowedKeys.join(", ")})`);
      }
      out[name][key] = v;
    }
  }
  return out;
}

/** Env name for a key: KEFU_SERVER_PORT for server.port. */
export const envName = (section: string, key: string) => `KEFU_${section}_${key}`.toUpperCase();

function applyEnv(config: Record<string, Record<string, unknown>>, env: Record<string, string | undefined>) {
  for (const [name, section] of Object.entries(sections)) {
    for (const [key, schema] of Object.entries(section.properties) as [string, TSchema][]) {
      const envKey = envName(name, key);
      const text = env[envKey];
      if (text === undefined) continue;
      config[name][key] = coerce(text, schema, `${name}.${key} (from ${envKey})`);
    }
  }
}

function coerce(text: string, schema: TSchema, label: string): unknown {
  const kind = schema[Kind];
  const fail = () => new ConfigError(`config key ${label} = ${JSON.stringify(text)} is invalid: expected ${allowed(schema)}`);
  // "auto" or a number (`[kb] search_workers`): a numeric text is the number.
  if (kind === "Union" && /^\s*\d+\s*$/.test(text) && (schema.anyOf as TSchema[]).some((s) => s[Kind] === "Integer" || s[Kind] === "Number")) return Number(text);
  if (kind === "Integer" || kind === "Number") {
    if (text.trim() === "") throw fail();
    const n = Number(text);
    if (!Number.isFinite(n)) throw fail();
    return n;
  }
  if (kind === "Boolean") {
    if (/^(true|1|yes|on)$/i.test(text)) return true;
    if (/^(false|0|no|off)$/i.test(text)) return false;
    throw fail();
  }
  if (kind === "Array" || kind === "Object") {
    try {
      return JSON.parse(text);
    } catch {
      throw new ConfigError(`config key ${label} must be JSON for ${allowed(schema)}`);
    }
  }
  return text;
}

function validate(config: Record<string, Record<string, unknown>>) {
  for (const [name, section] of Object.entries(sections)) {
    for (const [key, schema] of Object.entries(section.properties) as [string, TSchema][]) {
      const value = config[name][key];
      const first = Value.Errors(schema, value).First();
      if (!first) continue;
      const sub = first.path ? `${first.path.replaceAll("/", ".")}` : "";
      const shown = JSON.stringify(value);
      const detail = sub ? ` (${sub.slice(1)}: ${first.message.toLowerCase()})` : "";
      throw new ConfigError(
        `config key ${name}.${key} = ${shown && shown.length > 80 ? shown.slice(0, 77) + "..." : shown} is invalid: expected ${allowed(schema)}${detail}`,
      );
    }
  }
}
