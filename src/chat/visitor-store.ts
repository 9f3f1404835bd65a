import type { Database } from "bun:sqlite";
import { hashToken } from "../auth/token-store";
import type { Lang } from "./texts";

export interface Visitor {
  id: string;
  lang: Lang;
}

/** What the shop told about a visitor: a verified external id is unique to one visitor. */
export interface VisitorIdentity {
  name: string | null;
  email: string | null;
  externalId: string | null;
  verified: boolean;
  firstSeenAt: number;
}

/** Visitor tokens look like `kfv_<random>`; only their SHA-256 is stored. */
export function newVisitorToken(): string {
  return "kfv_" + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

export const isVisitorToken = (token: string) => token.startsWith("kfv_");

/**
 * Device tokens one visitor keeps (the newest): every hello of a verified user on another device issues
 * one, so without a cap a shop customer could grow the table at will with their own valid hash. A device
 * whose token was dropped gets `unauthorized` and starts over with the user's hash: the same visitor.
 */
export const MAX_TOKENS_PER_VISITOR = 20;

/**
 * A name or e-mail as a visitor (or the shop's page) told it, fit to show agents: control characters,
 * line breaks and bidi overrides (which reorder the text around them) become spaces, runs of spaces one;
 * nothing left is no value. HTML stays: it is text, and every front end renders it as text.
 */
export function cleanLabel(value: string | undefined): string | undefined {
  const clean = value?.replace(/[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu, " ").replace(/\s+/g, " ").trim();
  return clean || undefined;
}

interface IdentityRow {
  name: string | null;
  email: string | null;
  external_id: string | null;
  verified: number;
  created_at: number;
}

/**
 * Visitors and their tokens. A visitor may hold several tokens (one per device: a verified user who opens
 * the chat on a second device resumes the same visitor with a token of its own).
 */
export function createVisitorStore(db: Database) {
  const insert = db.query<null, [string, string, string, number, number]>(
    "INSERT INTO chat_visitors (id, token_hash, lang, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
  );
  const insertToken = db.query<null, [string, string, number]>("INSERT INTO chat_visitor_tokens (token_hash, visitor_id, created_at) VALUES (?, ?, ?)");
  const byToken = db.query<{ id: string; lang: Lang }, [string]>(
    "SELECT v.id, v.lang FROM chat_visitor_tokens t JOIN chat_visitors v ON v.id = t.visitor_id WHERE t.token_hash = ?",
  );
  const byVerified = db.query<{ id: string; lang: Lang }, [string]>("SELECT id, lang FROM chat_visitors WHERE external_id = ? AND verified = 1");
  const identity = db.query<IdentityRow, [string]>("SELECT name, email, external_id, verified, created_at FROM chat_visitors WHERE id = ?");
  const touch = db.query<null, [string, number, string]>("UPDATE chat_visitors SET lang = ?, last_seen_at = ? WHERE id = ?");
  // Keeps the token just issued (?2) and the newest others up to the cap.
  const dropOldTokens = db.query<null, [string, string, number]>(
    `DELETE FROM chat_visitor_tokens WHERE visitor_id = ?1 AND token_hash != ?2 AND token_hash NOT IN (
       SELECT token_hash FROM chat_visitor_tokens WHERE visitor_id = ?1 AND token_hash != ?2 ORDER BY created_at DESC LIMIT ?3)`,
  );

  const issueToken = db.transaction((visitorId: string): string => {
    const token = newVisitorToken();
    const hash = hashToken(token);
    insertToken.run(hash, visitorId, Date.now());
    dropOldTokens.run(visitorId, hash, MAX_TOKENS_PER_VISITOR - 1);
    return token;
  });

  return {
    create: db.transaction((lang: Lang): { visitor: Visitor; token: string } => {
      const token = newVisitorToken();
      const id = "v_" + Bun.randomUUIDv7("base64url");
      const now = Date.now();
      insert.run(id, hashToken(token), lang, now, now);
      insertToken.run(hashToken(token), id, now);
      return { visitor: { id, lang }, token };
    }),
    /** A new token for an existing visitor (another device of a verified user). */
    issueToken,
    /** The visitor a token belongs to, or null. */
    byToken(token: string): Visitor | null {
      return byToken.get(hashToken(token));
    },
    /** The visitor linked to this verified shop user id, or null. */
    byVerifiedUser(externalId: string): Visitor | null {
      return byVerified.get(externalId);
    },
    identity(id: string): VisitorIdentity | null {
      const r = identity.get(id);
      return r ? { name: r.name, email: r.email, externalId: r.external_id, verified: r.verified === 1, firstSeenAt: r.created_at } : null;
    },
    /** Links a visitor to a verified shop user (the caller checked nobody else is linked to it). */
    verify(id: string, externalId: string, name?: string, email?: string) {
      db.run("UPDATE chat_visitors SET external_id = ?, verified = 1, name = COALESCE(?, name), email = COALESCE(?, email) WHERE id = ?", [
        externalId,
        cleanLabel(name) ?? null,
        cleanLabel(email) ?? null,
        id,
      ]);
    },
    /** What an unsigned user or an offline-message form says: kept unless the visitor is verified. */
    describe(id: string, fields: { externalId?: string; name?: string; email?: string }) {
      db.run(
        "UPDATE chat_visitors SET external_id = COALESCE(?, external_id), name = COALESCE(?, name), email = COALESCE(?, email) WHERE id = ? AND verified = 0",
        [fields.externalId ?? null, cleanLabel(fields.name) ?? null, cleanLabel(fields.email) ?? null, id],
      );
    },
    touch(id: string, lang: Lang) {
      touch.run(lang, Date.now(), id);
    },
  };
}
export type VisitorStore = ReturnType<typeof createVisitorStore>;
