import type { Sql } from "../storage/sql";
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
export interface VisitorStore {
  create(lang: Lang): Promise<{ visitor: Visitor; token: string }>;
  /** A new token for an existing visitor (another device of a verified user); the oldest beyond the cap are dropped. */
  issueToken(visitorId: string): Promise<string>;
  /** The visitor a token belongs to, or null. */
  byToken(token: string): Promise<Visitor | null>;
  /** The visitor linked to this verified shop user id, or null. */
  byVerifiedUser(externalId: string): Promise<Visitor | null>;
  identity(id: string): Promise<VisitorIdentity | null>;
  /** Links a visitor to a verified shop user (the caller checked nobody else is linked to it). */
  verify(id: string, externalId: string, name?: string, email?: string): Promise<void>;
  /** What an unsigned user or an offline-message form says: kept unless the visitor is verified. */
  describe(id: string, fields: { externalId?: string; name?: string; email?: string }): Promise<void>;
  touch(id: string, lang: Lang): Promise<void>;
}

export function createVisitorStore(sql: Sql): VisitorStore {
  const insert = "INSERT INTO chat_visitors (id, token_hash, lang, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)";
  const insertToken = "INSERT INTO chat_visitor_tokens (token_hash, visitor_id, created_at) VALUES (?, ?, ?)";
  const byToken = "SELECT v.id, v.lang FROM chat_visitor_tokens t JOIN chat_visitors v ON v.id = t.visitor_id WHERE t.token_hash = ?";
  const byVerified = "SELECT id, lang FROM chat_visitors WHERE external_id = ? AND verified = 1";
  const identity = "SELECT name, email, external_id, verified, created_at FROM chat_visitors WHERE id = ?";
  const touch = "UPDATE chat_visitors SET lang = ?, last_seen_at = ? WHERE id = ?";
  // Keeps the token just issued (?2) and the newest others up to the cap.
  const dropOldTokens = `DELETE FROM chat_visitor_tokens WHERE visitor_id = ?1 AND token_hash != ?2 AND token_hash NOT IN (
       SELECT token_hash FROM chat_visitor_tokens WHERE visitor_id = ?1 AND token_hash != ?2 ORDER BY created_at DESC LIMIT ?3)`;

  return {
    create(lang) {
      return sql.transaction(async () => {
        const token = newVisitorToken();
        const id = "v_" + Bun.randomUUIDv7("base64url");
        const now = Date.now();
        const hash = hashToken(token);
        await sql.run(insert, [id, hash, lang, now, now]);
        await sql.run(insertToken, [hash, id, now]);
        return { visitor: { id, lang }, token };
      });
    },
    issueToken(visitorId) {
      return sql.transaction(async () => {
        const token = newVisitorToken();
        const hash = hashToken(token);
        await sql.run(insertToken, [hash, visitorId, Date.now()]);
        await sql.run(dropOldTokens, [visitorId, hash, MAX_TOKENS_PER_VISITOR - 1]);
        return token;
      });
    },
    byToken(token) {
      return sql.get<Visitor>(byToken, [hashToken(token)]);
    },
    byVerifiedUser(externalId) {
      return sql.get<Visitor>(byVerified, [externalId]);
    },
    async identity(id) {
      const r = await sql.get<IdentityRow>(identity, [id]);
      return r ? { name: r.name, email: r.email, externalId: r.external_id, verified: r.verified === 1, firstSeenAt: r.created_at } : null;
    },
    async verify(id, externalId, name, email) {
      await sql.run("UPDATE chat_visitors SET external_id = ?, verified = 1, name = COALESCE(?, name), email = COALESCE(?, email) WHERE id = ?", [
        externalId,
        cleanLabel(name) ?? null,
        cleanLabel(email) ?? null,
        id,
      ]);
    },
    async describe(id, fields) {
      await sql.run(
        "UPDATE chat_visitors SET external_id = COALESCE(?, external_id), name = COALESCE(?, name), email = COALESCE(?, email) WHERE id = ? AND verified = 0",
        [fields.externalId ?? null, cleanLabel(fields.name) ?? null, cleanLabel(fields.email) ?? null, id],
      );
    },
    async touch(id, lang) {
      await sql.run(touch, [lang, Date.now(), id]);
    },
  };
}
