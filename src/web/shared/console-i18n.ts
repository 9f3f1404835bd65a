/** What the agent and admin consoles share of their wording: the language choice and the sign-in error. */
export type Lang = "en" | "zh";

/** The saved choice under `storageKey`, else the browser's language; `set` saves it and sets the page's `lang`. */
export function langChoice(storageKey: string) {
  let current: Lang = (() => {
    const saved = localStorage.getItem(storageKey);
    if (saved === "zh" || saved === "en") return saved;
    return navigator.language.toLowerCase().startsWith("zh") ? "zh" : "en";
  })();
  return {
    get: (): Lang => current,
    set(next: Lang) {
      current = next;
      localStorage.setItem(storageKey, next);
      document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
    },
  };
}

/** Why a sign-in failed, in the console's words: wrong name or password (401), too many tries (429), else the error. */
export function loginErrorText(err: unknown, status: number | null, words: { wrong: string; limited: string; failed: (detail: string) => string }): string {
  if (status === 401) return words.wrong;
  if (status === 429) return words.limited;
  return words.failed(err instanceof Error ? err.message : String(err));
}
