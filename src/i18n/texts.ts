/** Visitor-facing languages. Every text a visitor can read exists in both. */
export type Lang = "zh" | "en";

/** Maps a language tag ("zh-CN", "en-US", "zh-Hant") to a supported language. */
export function pickLang(tag: string | undefined, fallback: Lang): Lang {
  if (!tag) return fallback;
  const primary = tag.trim().toLowerCase().split(/[-_]/)[0];
  return primary === "zh" || primary === "en" ? primary : fallback;
}

/**
 * A catalogue of texts with `{name}` placeholders. Typing `en` as `typeof zh` makes a
 * missing translation a compile error; an unknown placeholder is left visible.
 */
export function catalogue<K extends string>(texts: Record<Lang, Record<K, string>>) {
  return (lang: Lang, key: K, vars: Record<string, string | number> = {}): string =>
    texts[lang][key].replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}
