/**
 * Overrides of config keys kept in the database (the `settings` table), written from the admin API. At start-up
 * they are laid over the config file; a change applies at once through `apply` (the caller wires each key to its
 * feature). Only the keys in `SETTING_KEYS` can be overridden, and each value is checked as the config loader
 * checks it: the key's own schema, then the cross-key rules (`configChecks`) on the config as it would become.
 * Deleting an override goes back to the file's value.
 */
import type { Database } from "bun:sqlite";
import type { TObject, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { allowed } from "../config/describe";
import { configChecks, configSchema, type KefuConfig } from "../config/schema";
import { KefuError } from "../errors/kefu-error";
import type { Logger } from "../log/logger";

/** The config keys the settings table may override ("section.key"). */
export const SETTING_KEYS = ["kb.direct", "kb.suggest"] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];
export type SettingValues = Partial<Record<SettingKey, unknown>>;

export interface StoredSetting {
  value: unknown;
  /** Epoch ms. */
  updatedAt: number;
  updatedBy: string | null;
}

const split = (key: SettingKey) => key.split(".") as [keyof KefuConfig, string];
const schemaOf = (key: SettingKey): TSchema => {
  const [section, name] = split(key);
  return (configSchema.properties[section] as TObject).properties[name]!;
};

/** `config` with `values` laid over it (a copy: the sections touched are cloned, the rest shared). */
function overlay(config: KefuConfig, values: SettingValues): KefuConfig {
  const out = { ...config } as unknown as Record<string, Record<string, unknown>>;
  for (const [key, value] of Object.entries(values) as [SettingKey, unknown][]) {
    const [section, name] = split(key);
    out[section] = { ...out[section], [name]: value };
  }
  return out as unknown as KefuConfig;
}

/** The first problem of `values` over `config`, worded like the config loader's, or null. */
export function settingsProblem(config: KefuConfig, values: SettingValues): string | null {
  for (const [key, value] of Object.entries(values) as [SettingKey, unknown][]) {
    if (!SETTING_KEYS.includes(key)) return `${key} cannot be changed here (allowed: ${SETTING_KEYS.join(", ")})`;
    const schema = schemaOf(key);
    if (!Value.Check(schema, value)) return `${key} = ${JSON.stringify(value)} is invalid: expected ${allowed(schema)}`;
  }
  const next = overlay(config, values);
  for (const check of configChecks) {
    const problem = check(next);
    if (problem) return problem.replace(/^config key /, "");
  }
  return null;
}

export interface SettingsOptions {
  db: Database;
  /** The config as loaded from the file (and the environment). */
  config: KefuConfig;
  /** Makes the effective config live (called at start and after every change). */
  apply: (effective: KefuConfig) => void;
  log?: Logger;
  now?: () => number;
}

export function createSettings(opts: SettingsOptions) {
  const { db, config } = opts;
  const now = opts.now ?? Date.now;
  const rows = db.query<{ key: string; value: string; updated_at: number; updated_by: string | null }, []>("SELECT * FROM settings ORDER BY key");
  const upsert = db.query<unknown, [string, string, number, string | null]>(
    "INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
  );
  const remove = db.query<unknown, [string]>("DELETE FROM settings WHERE key = ?");

  let stored = new Map<SettingKey, StoredSetting>();
  let effective = config;
  /** Why the stored overrides are not in force (they no longer fit the config file), or null. */
  let ignored: string | null = null;

  const load = () => {
    stored = new Map();
    for (const r of rows.all()) {
      if (!SETTING_KEYS.includes(r.key as SettingKey)) continue; // written by a newer kefu: not ours to judge
      try {
        stored.set(r.key as SettingKey, { value: JSON.parse(r.value), updatedAt: r.updated_at, updatedBy: r.updated_by });
      } catch {
        opts.log?.warn("settings row is not JSON; ignored", { key: r.key });
      }
    }
    const values = Object.fromEntries([...stored].map(([k, s]) => [k, s.value])) as SettingValues;
    ignored = settingsProblem(config, values);
    if (ignored) opts.log?.warn("settings overrides do not fit the config file; using the file's values", { problem: ignored, keys: [...stored.keys()] });
    effective = ignored ? config : overlay(config, values);
    opts.apply(effective);
  };
  load();

  const inForce = (key: SettingKey) => !ignored && stored.has(key);

  return {
    /** The config with the overrides in force. */
    get effective(): KefuConfig {
      return effective;
    },
    /** Where the value of `key` in force comes from. */
    source(key: SettingKey): "config" | "settings" {
      return inForce(key) ? "settings" : "config";
    },
    /** The override of `key` in force, if any. */
    override(key: SettingKey): StoredSetting | null {
      return inForce(key) ? stored.get(key)! : null;
    },
    /** Why stored overrides are not in force (they do not fit the current config file), or null. */
    get ignored(): string | null {
      return ignored;
    },
    /** Writes overrides (validated over the config file plus the other overrides in force) and applies them. */
    set(values: SettingValues, by: string | null): KefuConfig {
      const current = ignored ? {} : Object.fromEntries([...stored].map(([k, s]) => [k, s.value]));
      const merged = { ...current, ...values } as SettingValues;
      const problem = settingsProblem(config, merged);
      if (problem) throw new KefuError("invalid_setting", 400, problem);
      db.transaction(() => {
        // Overrides left from before that did not fit are dropped: what is written is exactly what is in force.
        if (ignored) for (const k of stored.keys()) if (!(k in values)) remove.run(k);
        for (const [k, v] of Object.entries(values)) upsert.run(k, JSON.stringify(v), now(), by);
      })();
      load();
      return effective;
    },
    /** Deletes the overrides of `keys`: the config file's values apply again. */
    reset(keys: readonly SettingKey[]): KefuConfig {
      db.transaction(() => {
        for (const k of keys) remove.run(k);
      })();
      load();
      return effective;
    },
  };
}
export type Settings = ReturnType<typeof createSettings>;
