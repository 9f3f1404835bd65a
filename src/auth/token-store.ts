import type { Database } from "bun:sqlite";

/** Opaque bearer tokens: the client holds `kfu_<random>`, the database only its SHA-256. */
export function hashToken(token: string): string {
  return new Bun.CryptoHasher("sha256").update(token).digest("hex");
}

/** `kfu_` for sessions, `kfa_` for API tokens of POST /api/ask: 256 random bits either way. */
export function newToken(prefix = "kfu_"): string {
  return prefix + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

export interface TokenLifetimes {
  /** Absolute lifetime from login, ms. */
  ttlMs: number;
  /** A token unused this long is refused, ms. */
  idleMs: number;
  /** Clock, ms. Default Date.now. */
  now?: () => number;
}

/** Use is written at most this often per token: a request is a read, not a write. */
const TOUCH_EVERY_MS = 60_000;

export function createTokenStore(db: Database, life: TokenLifetimes) {
  const now = life.now ?? Date.now;
  const find = db.query<{ user_id: number; expires_at: number; last_used_at: number }, [string]>(
    "SELECT user_id, expires_at, last_used_at FROM auth_tokens WHERE token_hash = ?",
  );
  const touch = db.query<unknown, [number, string]>("UPDATE auth_tokens SET last_used_at = ? WHERE token_hash = ?");
  return {
    issue(userId: number): { token: string; expiresAt: number } {
      const token = newToken();
      const t = now();
      db.run("INSERT INTO auth_tokens (token_hash, user_id, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?)", [
        hashToken(token),
        userId,
        t,
        t + life.ttlMs,
        t,
      ]);
      // Expired tokens are useless; pruning here keeps the table small without a timer.
      db.run("DELETE FROM auth_tokens WHERE expires_at < ? OR last_used_at < ?", [t, t - life.idleMs]);
      return { token, expiresAt: t + life.ttlMs };
    },
    /** The user id a live token belongs to, or null (unknown, past its lifetime, or idle too long). */
    resolve(token: string): number | null {
      const h = hashToken(token);
      const row = find.get(h);
      const t = now();
      if (!row || row.expires_at <= t || row.last_used_at + life.idleMs <= t) return null;
      if (t - row.last_used_at >= TOUCH_EVERY_MS) touch.run(t, h);
      return row.user_id;
    },
    revokeAll(userId: number) {
      db.run("DELETE FROM auth_tokens WHERE user_id = ?", [userId]);
    },
    /** Deletes one token; returns the user it belonged to (null: unknown token). */
    revoke(token: string): number | null {
      const row = db.query<{ user_id: number }, [string]>("DELETE FROM auth_tokens WHERE token_hash = ? RETURNING user_id").get(hashToken(token));
      return row?.user_id ?? null;
    },
  };
}
export type TokenStore = ReturnType<typeof createTokenStore>;

export interface AskToken {
  id: number;
  label: string;
  /** Epoch ms. */
  createdAt: number;
  createdBy: string | null;
  /** Epoch ms, to the minute; null: never used. */
  lastUsedAt: number | null;
}

/** Most API tokens kept (each is a credential someone must track). */
export const MAX_ASK_TOKENS = 1_000;

/**
 * API tokens for POST /api/ask made from the admin API: shown once when made, stored as their SHA-256 and
 * looked up by it (as session tokens are), no expiry; revoking deletes them.
 */
export function createAskTokenStore(db: Database, opts: { now?: () => number } = {}) {
  const now = opts.now ?? Date.now;
  type Row = { id: number; label: string; created_at: number; created_by: string | null; last_used_at: number | null };
  const toToken = (r: Row): AskToken => ({ id: r.id, label: r.label, createdAt: r.created_at, createdBy: r.created_by, lastUsedAt: r.last_used_at });
  const find = db.query<{ id: number; last_used_at: number | null }, [string]>("SELECT id, last_used_at FROM ask_tokens WHERE token_hash = ?");
  const touch = db.query<unknown, [number, number]>("UPDATE ask_tokens SET last_used_at = ? WHERE id = ?");
  return {
    create(label: string, createdBy: string | null): { token: string; record: AskToken } {
      const token = newToken("kfa_");
      const row = db
        .query<Row, [string, string, number, string | null]>("INSERT INTO ask_tokens (label, token_hash, created_at, created_by) VALUES (?, ?, ?, ?) RETURNING id, label, created_at, created_by, last_used_at")
        .get(label, hashToken(token), now(), createdBy)!;
      return { token, record: toToken(row) };
    },
    list(): AskToken[] {
      return db.query<Row, []>("SELECT id, label, created_at, created_by, last_used_at FROM ask_tokens ORDER BY id").all().map(toToken);
    },
    count(): number {
      return db.query<{ n: number }, []>("SELECT count(*) AS n FROM ask_tokens").get()!.n;
    },
    /** Deletes one; false when there is no such token. */
    revoke(id: number): boolean {
      return db.query("DELETE FROM ask_tokens WHERE id = ?").run(id).changes > 0;
    },
    /** True when `token` is a live API token (its use is recorded at most once a minute). */
    check(token: string): boolean {
      const row = find.get(hashToken(token));
      if (!row) return false;
      const t = now();
      if (row.last_used_at === null || t - row.last_used_at >= TOUCH_EVERY_MS) touch.run(t, row.id);
      return true;
    },
  };
}
export type AskTokenStore = ReturnType<typeof createAskTokenStore>;
