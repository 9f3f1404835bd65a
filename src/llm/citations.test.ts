import { expect, test } from "bun:test";
import { citationFilter, stripCitations } from "./citations";

const ids = ["demo-returns-zh", "handbook#0", "q-c2acf0d1e2b3a4f5"];

test("markers of sent passages are removed with the blanks before them; other brackets stay", () => {
  expect(stripCitations("Our jackets come in navy and olive [demo-returns-zh].", ids)).toBe("Our jackets come in navy and olive.");
  expect(stripCitations("退货七天内免费[q-c2acf0d1e2b3a4f5]。", ids)).toBe("退货七天内免费。");
  expect(stripCitations("See [handbook#0, demo-returns-zh] and [q-0123456789abcdef].", ids)).toBe("See and.");
  expect(stripCitations("Press [OK] or [注意] here [1].", ids)).toBe("Press [OK] or [注意] here [1].");
  expect(stripCitations("an open [bracket\nthen] text", ids)).toBe("an open [bracket\nthen] text");
  expect(stripCitations("ends with [demo-ret", ids)).toBe("ends with [demo-ret");
});

test("a marker split across deltas is held back: any cut gives the same text as the whole", () => {
  const text = "Returns are free [demo-returns-zh]. Repairs: see [handbook#0] [q-c2acf0d1e2b3a4f5]; press [OK].  ";
  const whole = stripCitations(text, ids);
  expect(whole).toBe("Returns are free. Repairs: see; press [OK].  ");
  for (let size = 1; size <= 7; size++) {
    const f = citationFilter(ids);
    const pieces: string[] = [];
    for (let i = 0; i < text.length; i += size) pieces.push(f.push(text.slice(i, i + size)));
    pieces.push(f.end());
    expect({ size, text: pieces.join("") }).toEqual({ size, text: whole });
    // Nothing of a marker ever reaches the visitor, not even its first characters.
    expect(pieces.some((p) => p.includes("[demo") || p.includes("[q-") || p.includes("[hand"))).toBe(false);
  }
});
