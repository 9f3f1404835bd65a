import { has, type Key, t } from "../i18n";

/** `prefix_value` in words when the dictionary has it, else the value as it is (a plugin's own path or reason). */
export const label = (prefix: string, v: string) => {
  const key = `${prefix}_${v.split(":")[0]}` as Key;
  return has(key) ? t(key) : v;
};

/** A handoff reason in words. */
export const reasonText = (reason: string) => label("reason", reason);
/** An answer path (direct, choices, llm…) in words. */
export const pathText = (path: string) => label("path", path);
/** A provider's circuit breaker state (closed, open, half_open) in words. */
export const breakerText = (state: string) => label("breaker", state);
/** A plugin's status (loading, active, failed, disabled, auto_disabled) in words. */
export const pluginText = (status: string) => label("plugin", status);
/** A local model pool's state (starting, ready, failed, closed) in words. */
export const poolText = (state: string) => label("pool", state);
