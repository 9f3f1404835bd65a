/**
 * Overrides of config keys kept in the database (the `settings` table), written from the admin API. At start-up
 * they are laid over the config file; a change applies at once through `apply` (the caller wires each key to its
 * feature). Only the keys in `SETTING_KEYS` can be overridden, and each value is checked as the config loader
 * checks it: the key's own schema, then the cross-key rules (`configChecks`) on the config as it would become.
 * Deleting an override goes back to the file's value.
 */
import type { TObject, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { allowed } from "../config/describe";
import { configChecks, configSchema, type KefuConfig } from "../config/schema";
import { KefuError } from "../errors/kefu-error";
import type { EventBus } from "../events/bus";
import type { Logger } from "../log/logger";
import type { Sql } from "../storage/sql";

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

/** Bus topic announcing a change of the settings table (every node reloads its snapshot). */
export const SETTINGS_TOPIC = "settings";

/** The bus's local topic after an outage, once it is subscribed again (src/cluster/bus-redis.ts). */
const BUS_RESYNC_TOPIC = "bus:resync";

export interface SettingsOptions {
  sql: Sql;
  /** The config as loaded from the file (and the environment). */
  config: KefuConfig;
  /** Makes the effective config live (called at start and after every change, here or on another node). */
  apply: (effective: KefuConfig) => void;
  /** Announces changes to the other nodes and hears theirs (topic `settings`); none: this process only. */
  bus?: EventBus;
  log?: Logger;
  now?: () => number;
  /**
   * With a bus: also reread the table every `pollMs` (default 10 000; 0: never), and on the bus's local
   * `bus:resync` (it was down and is back). Pub/sub keeps nothing: an event published while Redis was down, or
   * while this node was resubscribing, is lost, and the node would keep the old values until a restart.
   */
  pollMs?: number;
}

/**
 * The settings in force. Reads are synchronous, from an in-memory snapshot (they are on the hot path: the
 * thresholds); it is reloaded after each write here and on each `settings` bus event (another node wrote).
 */
export interface Settings {
  /** The config with the overrides in force. */
  readonly effective: KefuConfig;
  /** Where the value of `key` in force comes from. */
  source(key: SettingKey): "config" | "settings";
  /** The override of `key` in force, if any. */
  override(key: SettingKey): StoredSetting | null;
  /** Why stored overrides are not in force (they do not fit the current config file), or null. */
  readonly ignored: string | null;
  /** Writes overrides (validated over the config file plus the other overrides in force) and applies them. */
  set(values: SettingValues, by: string | null): Promise<KefuConfig>;
  /** Deletes the overrides of `keys`: the config file's values apply again. */
  reset(keys: readonly SettingKey[]): Promise<KefuConfig>;
  /** Reads the table again (what a `settings` bus event does). */
  reload(): Promise<void>;
  /** Stops listening to the bus. */
  close(): void;
}

type SettingRow = { key: string; value: string; updated_at: number; updated_by: string | null };

const UPSERT =
  "INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by";

/** Loads the settings table into the snapshot (applied once before it resolves). */
export async function createSettings(opts: SettingsOptions): Promise<Settings> {
  const { sql, config } = opts;
  const now = opts.now ?? Date.now;

  let stored = new Map<SettingKey, StoredSetting>();
  let effective = config;
  /** Why the stored overrides are not in force (they no longer fit the config file), or null. */
  let ignored: string | null = null;

  /** The rows last applied: a reload that finds the same (a poll, mostly) applies nothing. */
  let lastRows: string | null = null;
  const take = (rows: SettingRow[]) => {
    const key = JSON.stringify(rows);
    if (key === lastRows) return;
    lastRows = key;
    stored = new Map();
    for (const r of rows) {
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
  // Loads are applied in the order they were started: a slow older read never overwrites a newer one.
  let loads = 0;
  let applied = 0;
  const load = async () => {
    const n = ++loads;
    const rows = await sql.all<SettingRow>("SELECT key, value, updated_at, updated_by FROM settings ORDER BY key");
    if (n < applied) return;
    applied = n;
    take(rows);
  };
  await load();
  const changed = async () => {
    await load();
    opts.bus?.publish(SETTINGS_TOPIC, { at: now() });
  };
  const reload = () => {
    load().catch((err) => opts.log?.error("settings could not be reloaded", { err }));
  };
  const subscriptions = opts.bus ? [opts.bus.subscribe(SETTINGS_TOPIC, reload), opts.bus.subscribe(BUS_RESYNC_TOPIC, reload)] : [];
  const pollMs = opts.pollMs ?? 10_000;
  const poll = opts.bus && pollMs > 0 ? setInterval(reload, pollMs) : null;
  (poll as { unref?: () => void } | null)?.unref?.();
  const unsubscribe = () => {
    if (poll) clearInterval(poll);
    for (const off of subscriptions.splice(0)) off();
  };

  const inForce = (key: SettingKey) => !ignored && stored.has(key);

  return {
    get effective(): KefuConfig {
      return effective;
    },
    source(key) {
      return inForce(key) ? "settings" : "config";
    },
    override(key) {
      return inForce(key) ? stored.get(key)! : null;
    },
    get ignored(): string | null {
      return ignored;
    },
    async set(values, by) {
      const current = ignored ? {} : Object.fromEntries([...stored].map(([k, s]) => [k, s.value]));
      const merged = { ...current, ...values } as SettingValues;
      const problem = settingsProblem(config, merged);
      if (problem) throw new KefuError("invalid_setting", 400, problem);
      const drop = ignored ? [...stored.keys()].filter((k) => !(k in values)) : [];
      await sql.transaction(async () => {
        // Overrides left from before that did not fit are dropped: what is written is exactly what is in force.
        for (const k of drop) await sql.run("DELETE FROM settings WHERE key = ?", [k]);
        for (const [k, v] of Object.entries(values)) await sql.run(UPSERT, [k, JSON.stringify(v), now(), by]);
      });
      await changed();
      return effective;
    },
    async reset(keys) {
      await sql.transaction(async () => {
        for (const k of keys) await sql.run("DELETE FROM settings WHERE key = ?", [k]);
      });
      await changed();
      return effective;
    },
    reload: load,
    close: unsubscribe,
  };
}
