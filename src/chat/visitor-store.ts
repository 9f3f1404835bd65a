import type { Database } from "bun:sqlite";
import { hashToken } from "../auth/token-store";
import type { Lang } from "./texts";

export interface Visitor {
  id: string;
  lang: Lang;
}

/** Visitor tokens look like `kfv_<random>`; only their SHA-256 is stored. */
export function newVisitorToken(): string {
  return "kfv_" + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

export const isVisitorToken = (token: string) => token.startsWith("kfv_");

export function createVisitorStore(db: Database) {
  const insert = db.query<null, [string, string, string, number, number]>(
    "INSERT INTO chat_visitors (id, token_hash, lang, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
  );
  const byToken = db.query<{ id: string; lang: Lang }, [string]>("SELECT id, lang FROM chat_visitors WHERE token_hash = ?");
  const touch = db.query<null, [string, number, string]>("UPDATE chat_visitors SET lang = ?, last_seen_at = ? WHERE id = ?");
  return {
    create(lang: Lang): { visitor: Visitor; token: string } {
      const token = newVisitorToken();
      const id = "v_" + Bun.randomUUIDv7("base64url");
      const now = Date.now();
      insert.run(id, hashToken(token), lang, now, now);
      return { visitor: { id, lang }, token };
    },
    /** The visitor a token belongs to, or null. */
    byToken(token: string): Visitor | null {
      return byToken.get(hashToken(token));
    },
    touch(id: string, lang: Lang) {
      touch.run(lang, Date.now(), id);
    },
  };
}
export type VisitorStore = ReturnType<typeof createVisitorStore>;
