/**
 * Removes the `[id]` citation markers a grounded model writes (the prompt asks for them) from the text a
 * visitor reads; the ids stay on the answer as its sources. Works on a stream: a marker split across
 * deltas is held back until it is complete, so the pieces put together always equal `stripCitations` of
 * the whole text, however the text was cut.
 *
 * A marker is `[a]` or `[a, b]` where every id is one of the passages sent, or has the knowledge base's
 * default id shape (`q-` + 16 hex digits, in case the model mangles the list). Other brackets are text.
 * Blanks right before a marker go with it ("olive [q-…]." → "olive.").
 */

/** Longest bracket content still considered a possible marker; past it the "[" is plain text. */
const MAX_MARKER_CHARS = 400;
const DEFAULT_ID = /^q-[0-9a-f]{16}$/;
const BLANK = /[ \t]/;

export interface CitationFilter {
  /** Text safe to show from this delta on (possibly empty while a marker may be starting). */
  push(delta: string): string;
  /** The held-back rest, at the end of the answer. */
  end(): string;
}

export function citationFilter(ids: Iterable<string>): CitationFilter {
  const known = new Set(ids);
  const isMarker = (inner: string) => inner.split(/[,;，、]/).every((part) => known.has(part.trim()) || DEFAULT_ID.test(part.trim()));
  let held = "";

  function drain(final: boolean): string {
    const s = held;
    let out = "";
    let i = 0;
    for (;;) {
      const open = s.indexOf("[", i);
      if (open < 0) {
        // Trailing blanks may belong to a marker that starts in the next delta.
        let keep = s.length;
        if (!final) while (keep > i && BLANK.test(s[keep - 1]!)) keep--;
        held = s.slice(keep);
        return out + s.slice(i, keep);
      }
      let blanks = open;
      while (blanks > i && BLANK.test(s[blanks - 1]!)) blanks--;
      const close = s.indexOf("]", open + 1);
      const newline = s.indexOf("\n", open + 1);
      const cut = close < 0 ? -1 : newline >= 0 && newline < close ? -1 : close;
      if (cut < 0 && !final && newline < 0 && s.length - open <= MAX_MARKER_CHARS) {
        held = s.slice(blanks);
        return out + s.slice(i, blanks);
      }
      if (cut >= 0 && cut - open <= MAX_MARKER_CHARS && isMarker(s.slice(open + 1, cut))) {
        out += s.slice(i, blanks);
        i = cut + 1;
      } else {
        out += s.slice(i, open + 1);
        i = open + 1;
      }
    }
  }

  return {
    push(delta) {
      held += delta;
      return drain(false);
    },
    end() {
      return drain(true);
    },
  };
}

/** `text` without its citation markers: the same result as streaming it through `citationFilter`. */
export function stripCitations(text: string, ids: Iterable<string>): string {
  const f = citationFilter(ids);
  return f.push(text) + f.end();
}
