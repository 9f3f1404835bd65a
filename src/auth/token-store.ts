import type { Database } from "bun:sqlite";

/** Opaque bearer tokens: the client holds `kfu_<random>`, the database only its SHA-256. */
export function hashToken(token: string): string {
  return new Bun.CryptoHasher("sha256").update(token).digest("hex");
}

export function newToken(): string {
  return "kfu_" + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
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
