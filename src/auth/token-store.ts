import type { Database } from "bun:sqlite";

/** Opaque bearer tokens: the client holds `kfu_<random>`, the database only its SHA-256. */
export function hashToken(token: string): string {
  return new Bun.CryptoHasher("sha256").update(token).digest("hex");
}

export function newToken(): string {
  return "kfu_" + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

export function createTokenStore(db: Database) {
  const find = db.query<{ user_id: number; expires_at: number }, [string]>(
    "SELECT user_id, expires_at FROM auth_tokens WHERE token_hash = ?",
  );
  return {
    issue(userId: number, ttlMs: number): { token: string; expiresAt: number } {
      const token = newToken();
      const now = Date.now();
      db.run("INSERT INTO auth_tokens (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)", [
        hashToken(token),
        userId,
        now,
        now + ttlMs,
      ]);
      // Expired tokens are useless; pruning here keeps the table small without a timer.
      db.run("DELETE FROM auth_tokens WHERE expires_at < ?", [now]);
      return { token, expiresAt: now + ttlMs };
    },
    /** The user id a live token belongs to, or null. */
    resolve(token: string): number | null {
      const row = find.get(hashToken(token));
      if (!row || row.expires_at < Date.now()) return null;
      return row.user_id;
    },
    revokeAll(userId: number) {
      db.run("DELETE FROM auth_tokens WHERE user_id = ?", [userId]);
    },
    revoke(token: string) {
      db.run("DELETE FROM auth_tokens WHERE token_hash = ?", [hashToken(token)]);
    },
  };
}
export type TokenStore = ReturnType<typeof createTokenStore>;
