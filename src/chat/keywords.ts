import { normalizeForMatch } from "../text/normalize";

/**
 * Builds the "does the visitor ask for a human?" test from configured keywords.
 * Keywords with Latin letters or digits match whole words only ("agent" must not
 * fire on "agentic", but does in "我要agent"); others (Chinese) match anywhere, since Chinese has no spaces.
 * Full-width letters and case are folded on both sides.
 */
export function createKeywordMatcher(keywords: string[]): (text: string) => boolean {
  const words: string[] = [];
  const fragments: string[] = [];
  for (const k of keywords) {
    const n = normalizeForMatch(k);
    if (!n) continue;
    (/[a-z0-9]/.test(n) ? words : fragments).push(n);
  }
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const wordRe = escaped.length ? new RegExp(`(?<![a-z0-9])(?:${escaped.join("|")})(?![a-z0-9])`) : null;
  return (text) => {
    const n = normalizeForMatch(text);
    return fragments.some((f) => n.includes(f)) || (wordRe !== null && wordRe.test(n));
  };
}
