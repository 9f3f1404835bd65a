import type { Sql } from "../storage/sql";

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

export interface TokenStore {
  issue(userId: number): Promise<{ token: string; expiresAt: number }>;
  /** The user id a live token belongs to, or null (unknown, past its lifetime, or idle too long). */
  resolve(token: string): Promise<number | null>;
  revokeAll(userId: number): Promise<void>;
  /** Deletes one token; returns the user it belonged to (null: unknown token). */
  revoke(token: string): Promise<number | null>;
}

export function createTokenStore(sql: Sql, life: TokenLifetimes): TokenStore {
  const now = life.now ?? Date.now;
  const find = "SELECT user_id, expires_at, last_used_at FROM auth_tokens WHERE token_hash = ?";
  const touch = "UPDATE auth_tokens SET last_used_at = ? WHERE token_hash = ?";
  return {
    async issue(userId) {
      const token = newToken();
      const t = now();
      await sql.run("INSERT INTO auth_tokens (token_hash, user_id, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?)", [
        hashToken(token),
        userId,
        t,
        t + life.ttlMs,
        t,
      ]);
      // Expired tokens are useless; pruning here keeps the table small without a timer.
      await sql.run("DELETE FROM auth_tokens WHERE expires_at < ? OR last_used_at < ?", [t, t - life.idleMs]);
      return { token, expiresAt: t + life.ttlMs };
    },
    async resolve(token) {
      const h = hashToken(token);
      const row = await sql.get<{ user_id: number; expires_at: number; last_used_at: number }>(find, [h]);
      const t = now();
      if (!row || row.expires_at <= t || row.last_used_at + life.idleMs <= t) return null;
      if (t - row.last_used_at >= TOUCH_EVERY_MS) await sql.run(touch, [t, h]);
      return row.user_id;
    },
    async revokeAll(userId) {
      await sql.run("DELETE FROM auth_tokens WHERE user_id = ?", [userId]);
    },
    async revoke(token) {
      const row = await sql.get<{ user_id: number }>("DELETE FROM auth_tokens WHERE token_hash = ? RETURNING user_id", [hashToken(token)]);
      return row?.user_id ?? null;
    },
  };
}

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
export interface AskTokenStore {
  /**
   * Makes a token unless `max` exist already (then null). The count and the insert are one step across
   * nodes: on PostgreSQL the table is locked against other writers for the transaction (SQLite's write
   * transaction excludes everyone anyway), so two admins on two nodes never pass the cap together.
   */
  create(label: string, createdBy: string | null, max?: number): Promise<{ token: string; record: AskToken } | null>;
  list(): Promise<AskToken[]>;
  count(): Promise<number>;
  /** Deletes one; false when there is no such token. */
  revoke(id: number): Promise<boolean>;
  /** True when `token` is a live API token (its use is recorded at most once a minute). */
  check(token: string): Promise<boolean>;
}

export function createAskTokenStore(sql: Sql, opts: { now?: () => number } = {}): AskTokenStore {
  const now = opts.now ?? Date.now;
  type Row = { id: number; label: string; created_at: number; created_by: string | null; last_used_at: number | null };
  const toToken = (r: Row): AskToken => ({ id: r.id, label: r.label, createdAt: r.created_at, createdBy: r.created_by, lastUsedAt: r.last_used_at });
  const find = "SELECT id, last_used_at FROM ask_tokens WHERE token_hash = ?";
  const touch = "UPDATE ask_tokens SET last_used_at = ? WHERE id = ?";
  return {
    async create(label, createdBy, max = MAX_ASK_TOKENS) {
      const token = newToken("kfa_");
      const row = await sql.transaction(async () => {
        if (sql.dialect === "postgres") await sql.run("LOCK TABLE ask_tokens IN SHARE ROW EXCLUSIVE MODE");
        return sql.get<Row>(
          `INSERT INTO ask_tokens (label, token_hash, created_at, created_by) SELECT ?, ?, ?, ? WHERE (SELECT count(*) FROM ask_tokens) < ?
           RETURNING id, label, created_at, created_by, last_used_at`,
          [label, hashToken(token), now(), createdBy, max],
        );
      });
      return row ? { token, record: toToken(row) } : null;
    },
    async list() {
      return (await sql.all<Row>("SELECT id, label, created_at, created_by, last_used_at FROM ask_tokens ORDER BY id")).map(toToken);
    },
    async count() {
      return (await sql.get<{ n: number }>("SELECT count(*) AS n FROM ask_tokens"))!.n;
    },
    async revoke(id) {
      return (await sql.run("DELETE FROM ask_tokens WHERE id = ?", [id])).changes > 0;
    },
    async check(token) {
      const row = await sql.get<{ id: number; last_used_at: number | null }>(find, [hashToken(token)]);
      if (!row) return false;
      const t = now();
      if (row.last_used_at === null || t - row.last_used_at >= TOUCH_EVERY_MS) await sql.run(touch, [t, row.id]);
      return true;
    },
  };
}
