import { has, type Key, t } from "../i18n";

/** `prefix_value` in words when the dictionary has it, else the value as it is (a plugin's own path or reason). */
const label = (prefix: string, v: string) => {
  const key = `${prefix}_${v.split(":")[0]}` as Key;
  return has(key) ? t(key) : v;
};

/** A handoff reason in words. */
export const reasonText = (reason: string) => label("reason", reason);
/** An answer path (direct, choices, llm…) in words. */
export const pathText = (path: string) => label("path", path);
