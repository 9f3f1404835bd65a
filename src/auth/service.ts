import type { Database } from "bun:sqlite";
import { badRequest, KefuError, unauthorized } from "../errors/kefu-error";
import { createRateLimiter } from "../limits/rate-limit";
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from "./password";
import { createTokenStore } from "./token-store";
import { createUserStore, type Role, type User } from "./user-store";

export interface AuthOptions {
  /** Bearer token lifetime. Default 168 h. */
  tokenTtlHours?: number;
  /** Clock in ms for the failed-login limiter (tests). Default performance.now. */
  now?: () => number;
}

// Verifying against a real hash when the user does not exist keeps the response
// time the same, so login cannot be used to discover account names.
let dummyHash: Promise<string> | null = null;

export function createAuth(db: Database, opts: AuthOptions = {}) {
  const users = createUserStore(db);
  const tokens = createTokenStore(db);
  const ttlMs = (opts.tokenTtlHours ?? 168) * 3600_000;
  // Failed logins per account name: 10 at once, then one per minute. Each failure costs an
  // argon2id verification, so this also bounds the CPU an attacker can burn.
  const failures = createRateLimiter({ burst: 10, perSecond: 1 / 60, maxKeys: 10_000, now: opts.now });
  const tooMany = () => new KefuError("too_many_attempts", 429, "too many failed logins for this account; wait a minute and try again");

  return {
    users,
    async addUser(name: string, role: Role, password: string, extra: { displayName?: string; maxConcurrent?: number } = {}) {
      if (!/^[\w.@-]{1,64}$/.test(name)) throw badRequest("user name must be 1-64 letters, digits or . _ @ -");
      if (password.length < MIN_PASSWORD_LENGTH) throw badRequest(`password must have at least ${MIN_PASSWORD_LENGTH} characters`);
      return users.add({ name, role, passwordHash: await hashPassword(password), ...extra });
    },
    async login(name: string, password: string): Promise<{ token: string; expiresAt: number; user: User }> {
      const key = name.toLowerCase();
      if (failures.blocked(key)) throw tooMany();
      const cred = users.credentials(name);
      const ok = cred
        ? (await verifyPassword(password, cred.passwordHash)) && !cred.user.disabled
        : await verifyPassword(password, await (dummyHash ??= hashPassword("not-a-real-password"))).then(() => false);
      if (!ok || !cred) {
        if (!failures.take(key)) throw tooMany();
        throw unauthorized("wrong user name or password");
      }
      return { ...tokens.issue(cred.user.id, ttlMs), user: cred.user };
    },
    /** The account behind a bearer token, or null when the token is unknown, expired or disabled. */
    authenticate(token: string | null | undefined): User | null {
      if (!token) return null;
      const id = tokens.resolve(token);
      if (id === null) return null;
      const user = users.get(id);
      return user && !user.disabled ? user : null;
    },
    /** Changes a password and revokes every token of the account. */
    async setPassword(userId: number, password: string) {
      if (password.length < MIN_PASSWORD_LENGTH) throw badRequest(`password must have at least ${MIN_PASSWORD_LENGTH} characters`);
      users.setPassword(userId, await hashPassword(password));
      tokens.revokeAll(userId);
    },
    logout(token: string) {
      tokens.revoke(token);
    },
  };
}
export type Auth = ReturnType<typeof createAuth>;
