/**
 * The questions the load client asks: the demo shop's questions and alternative phrasings
 * (src/demo/shop-faq.ts) plus the queries of ../shared/eval/clinc150-val and lcqmc-dev, read at run time
 * (public research data: never copied into the repository). Without ../shared/eval only the demo
 * phrasings are used, and `note` says so.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { demoShopFaq } from "../../src/demo/shop-faq";

export const evalDir = resolve(import.meta.dir, "../../../shared/eval");

export interface Phrasings {
  texts: string[];
  sources: Record<string, number>;
  note: string | null;
}

export function loadPhrasings(): Phrasings {
  const demo = demoShopFaq.flatMap((e) => [e.question, ...e.alts]);
  const sources: Record<string, number> = { demo: demo.length };
  const texts = [...demo];
  const missing: string[] = [];
  for (const set of ["clinc150-val", "lcqmc-dev"]) {
    const file = join(evalDir, set, "queries.jsonl");
    if (!existsSync(file)) {
      missing.push(set);
      continue;
    }
    const qs = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => (JSON.parse(l) as { query: string }).query);
    sources[set] = qs.length;
    texts.push(...qs);
  }
  const unique = [...new Set(texts.map((t) => t.trim()).filter(Boolean))];
  const note = missing.length ? `${missing.join(" and ")} not found under ${evalDir}: demo phrasings only (${unique.length})` : null;
  return { texts: unique, sources, note };
}

/** The same question for every message: the answer-cache path. */
export const cachedQuestion = "How much is shipping?";
