/**
 * The reference baseline of issue 3: plain TF-IDF over character n-grams
 * (1–3, sklearn-style smooth IDF, raw tf, L2 norm), cosine, best phrasing wins.
 * Measured in the same run as kefu's engine so the two are comparable.
 */
import { normalizeForMatch } from "../../src/text/normalize.ts";

type Vec = Map<string, number>;

function grams(text: string): Map<string, number> {
  const chars = Array.from(normalizeForMatch(text));
  const out = new Map<string, number>();
  for (let n = 1; n <= 3; n++) {
    for (let i = 0; i + n <= chars.length; i++) {
      const g = chars.slice(i, i + n).join("");
      out.set(g, (out.get(g) ?? 0) + 1);
    }
  }
  return out;
}

export class TfidfBaseline {
  private idf = new Map<string, number>();
  private docs: { key: string; vec: Vec }[] = [];
  private postings = new Map<string, number[]>();

  constructor(items: { key: string; text: string }[]) {
    const bags = items.map((it) => grams(it.text));
    const df = new Map<string, number>();
    for (const b of bags) for (const g of b.keys()) df.set(g, (df.get(g) ?? 0) + 1);
    const n = items.length;
    for (const [g, d] of df) this.idf.set(g, Math.log((1 + n) / (1 + d)) + 1);
    bags.forEach((b, i) => {
      this.docs.push({ key: items[i]!.key, vec: this.weigh(b) });
      for (const g of b.keys()) {
        let p = this.postings.get(g);
        if (!p) this.postings.set(g, (p = []));
        p.push(i);
      }
    });
  }

  private weigh(bag: Map<string, number>): Vec {
    const v: Vec = new Map();
    let norm = 0;
    for (const [g, c] of bag) {
      const x = c * (this.idf.get(g) ?? 0);
      if (x > 0) {
        v.set(g, x);
        norm += x * x;
      }
    }
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (const [g, x] of v) v.set(g, x * inv);
    return v;
  }

  vector(text: string): Vec {
    return this.weigh(grams(text));
  }

  /** Keys ranked by their best document's cosine (a key = an entry, documents = its phrasings). */
  rank(text: string): { key: string; score: number }[] {
    const q = this.vector(text);
    const acc = new Map<number, number>();
    for (const [g, x] of q) for (const i of this.postings.get(g) ?? []) acc.set(i, (acc.get(i) ?? 0) + x * this.docs[i]!.vec.get(g)!);
    const best = new Map<string, number>();
    for (const [i, s] of acc) {
      const k = this.docs[i]!.key;
      if (s > (best.get(k) ?? -1)) best.set(k, s);
    }
    return [...best].map(([key, score]) => ({ key, score })).sort((a, b) => b.score - a.score);
  }
}

export function cosineOf(a: Vec, b: Vec): number {
  let s = 0;
  for (const [g, x] of a) {
    const y = b.get(g);
    if (y !== undefined) s += x * y;
  }
  return s;
}
