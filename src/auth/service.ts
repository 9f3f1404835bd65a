import type { Sql } from "../storage/sql";
import { badRequest, KefuError, notFound, unauthorized } from "../errors/kefu-error";
import { createRateLimiter } from "../limits/rate-limit";
import { limitKey } from "../server/client-ip";
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from "./password";
import { createAskTokenStore, createTokenStore } from "./token-store";
import { createUserStore, type Role, type User, type UserPatch } from "./user-store";

export interface AuthOptions {
  /** Absolute bearer token lifetime. Default 168 h. */
  tokenTtlHours?: number;
  /** Idle lifetime: a token unused this long is refused. Default 24 h. */
  tokenIdleHours?: number;
  /** Login attempts per client IP: burst and refill per minute. Defaults 20 and 6. */
  loginIpBurst?: number;
  loginIpPerMinute?: number;
  /** Login attempts per (account, client IP): burst and refill per minute. Defaults 5 and 1. */
  loginAccountIpBurst?: number;
  loginAccountIpPerMinute?: number;
  /** Clock in ms for the limiters (tests). Default performance.now. */
  now?: () => number;
  /** Password check (tests count calls). Default argon2id verification. */
  verify?: (plain: string, hash: string) => Promise<boolean>;
}

/** Longest display name, in characters (code points) after trimming. */
export const MAX_DISPLAY_NAME = 64;

/**
 * The name visitors see instead of the login: trimmed, 1-64 characters, no control characters (it is
 * shown in chat notices and agent lists). `null` (or undefined) means "none": visitors see the login.
 */
export function displayName(input: string | null | undefined): string | null {
  if (input === null || input === undefined) return null;
  const value = input.trim();
  const length = [...value].length;
  if (length < 1 || length > MAX_DISPLAY_NAME) throw badRequest(`display name must be 1-${MAX_DISPLAY_NAME} characters after trimming (null clears it)`);
  if (/[\p{Cc}\u2028\u2029]/u.test(value)) throw badRequest("display name may not contain control characters or line breaks");
  return value;
}

export function createAuth(sql: Sql, opts: AuthOptions = {}) {
  const users = createUserStore(sql);
  const tokens = createTokenStore(sql, { ttlMs: (opts.tokenTtlHours ?? 168) * 3600_000, idleMs: (opts.tokenIdleHours ?? 24) * 3600_000 });
  const verify = opts.verify ?? verifyPassword;
  const askTokens = createAskTokenStore(sql);
  // Login slots are taken BEFORE the password is verified, so concurrent guesses cannot all get through
  // while the first ones are still hashing, and a refused guess costs no argon2 work. Keyed by client IP
  // (over all account names: rotating names does not help) and by (account, IP): a guesser exhausts only
  // its own allowance, never the real user's from another address.
  const perIp = createRateLimiter({ burst: opts.loginIpBurst ?? 20, perSecond: (opts.loginIpPerMinute ?? 6) / 60, maxKeys: 50_000, now: opts.now });
  const perAccountIp = createRateLimiter({
    burst: opts.loginAccountIpBurst ?? 5,
    perSecond: (opts.loginAccountIpPerMinute ?? 1) / 60,
    maxKeys: 50_000,
    now: opts.now,
  });
  let refusals = 0;
  const tooMany = () => (refusals++, new KefuError("too_many_attempts", 429, "too many login attempts from this address; wait a minute and try again"));
  // Verifying against a real hash when the user does not exist keeps the response time the same, so
  // login cannot be used to discover account names. Made at start, not on the first unknown name.
  const dummyHash = hashPassword("not-a-real-password");
  // Told when tokens of an account are revoked, so live sockets holding one can end at once.
  const revoked = new Set<(userId: number) => void>();
  const notifyRevoked = (userId: number) => {
    for (const fn of revoked) fn(userId);
  };
  /** Counters for operators (and tests): password checks run, and attempts refused before checking. */
  const loginStats = { verified: 0, refused: 0 };

  /** Takes a password-check slot of `ip` and of (account, ip), or refuses with 429 before any hashing. */
  const takeSlots = (name: string, address: string) => {
    const ip = limitKey(address);
    const pair = `${name.toLowerCase()}\n${ip}`;
    if (!perIp.take(ip)) {
      loginStats.refused++;
      throw tooMany();
    }
    if (!perAccountIp.take(pair)) {
      perIp.give(ip);
      loginStats.refused++;
      throw tooMany();
    }
    loginStats.verified++;
    return { ip, pair };
  };

  return {
    /** Login attempts refused by the rate limits since start (/metrics). */
    loginRefusals: () => refusals,
    users,
    /** API tokens of POST /api/ask kept in the database (next to `[answer] ask_tokens`). */
    askTokens,
    loginStats,
    async addUser(name: string, role: Role, password: string, extra: { displayName?: string; maxConcurrent?: number } = {}) {
      if (!/^[\w.@-]{1,64}$/.test(name)) throw badRequest("user name must be 1-64 letters, digits or . _ @ -");
      if (password.length < MIN_PASSWORD_LENGTH) throw badRequest(`password must have at least ${MIN_PASSWORD_LENGTH} characters`);
      const display = displayName(extra.displayName);
      return users.add({ name, role, passwordHash: await hashPassword(password), maxConcurrent: extra.maxConcurrent, displayName: display ?? undefined });
    },
    /** Sets (validated, see displayName()) or clears the name visitors see. Frames built afterwards use it. */
    async setDisplayName(userId: number, value: string | null): Promise<User> {
      const user = await users.setDisplayName(userId, displayName(value));
      if (!user) throw notFound(`user ${userId}`);
      return user;
    },
    /**
     * An admin's change of an account (display name validated as `displayName()`). Never leaves the server
     * without an enabled admin (409). Disabling signs the account out everywhere: its tokens are revoked and
     * its live sockets told.
     */
    async updateUser(userId: number, patch: UserPatch): Promise<User> {
      const clean = { ...patch, ...(patch.displayName !== undefined ? { displayName: displayName(patch.displayName) } : {}) };
      const before = await users.get(userId);
      const user = await users.update(userId, clean);
      if (!user) throw notFound(`user ${userId}`);
      if (user.disabled && !before?.disabled) {
        await tokens.revokeAll(userId);
        notifyRevoked(userId);
      }
      return user;
    },
    /** An admin sets a new password for an account: every token of the account is revoked. */
    async resetPassword(userId: number, password: string) {
      if (!(await users.get(userId))) throw notFound(`user ${userId}`);
      await this.setPassword(userId, password);
    },
    /** `ip` is the client address (src/server/client-ip.ts; limits count an IPv6 /64 as one address). */
    async login(name: string, password: string, ip: string): Promise<{ token: string; expiresAt: number; user: User }> {
      const slots = takeSlots(name, ip);
      const cred = await users.credentials(name);
      // Both branches verify one hash, and a disabled account fails after verifying, like a wrong password.
      const matches = await verify(password, cred?.passwordHash ?? (await dummyHash));
      if (!cred || !matches || cred.user.disabled) throw unauthorized("wrong user name or password");
      // A successful login gives its slots back: signing in many times from one office is not guessing.
      perIp.give(slots.ip);
      perAccountIp.give(slots.pair);
      // The hash was read before the (slow) verify: a reset or disable committed meanwhile revoked every token
      // of the account already, so this one must not be issued after it. Checked and issued in one transaction.
      const issued = await sql.transaction(async () => ((await users.stillSignsIn(cred.user.id, cred.passwordHash)) ? tokens.issue(cred.user.id) : null));
      if (!issued) throw unauthorized("wrong user name or password");
      return { ...issued, user: cred.user };
    },
    /** The account behind a bearer token, or null when the token is unknown, expired, idle or disabled. */
    async authenticate(token: string | null | undefined): Promise<User | null> {
      if (!token) return null;
      const id = await tokens.resolve(token);
      if (id === null) return null;
      const user = await users.get(id);
      return user && !user.disabled ? user : null;
    },
    /** Changes a password and revokes every token of the account. */
    async setPassword(userId: number, password: string) {
      if (password.length < MIN_PASSWORD_LENGTH) throw badRequest(`password must have at least ${MIN_PASSWORD_LENGTH} characters`);
      const hash = await hashPassword(password);
      // One transaction: a login checking the old hash (stillSignsIn) comes wholly before or after it.
      await sql.transaction(async () => {
        await users.setPassword(userId, hash);
        await tokens.revokeAll(userId);
      });
      notifyRevoked(userId);
    },
    /** A signed-in user changes their own password: the current one is checked, then every token is revoked. */
    async changePassword(user: User, current: string, next: string, ip: string) {
      // The same allowance as login: a stolen token must not turn into unlimited password guessing.
      const slots = takeSlots(user.name, ip);
      const cred = await users.credentials(user.name);
      if (!cred || !(await verify(current, cred.passwordHash))) throw new KefuError("wrong_password", 403, "current password is wrong");
      perIp.give(slots.ip);
      perAccountIp.give(slots.pair);
      await this.setPassword(user.id, next);
    },
    async logout(token: string) {
      const userId = await tokens.revoke(token);
      if (userId !== null) notifyRevoked(userId);
    },
    /**
     * Calls `fn(userId)` whenever tokens of an account are revoked in this process (logout, password
     * change). Returns the unsubscribe function. Revocations by another process (the CLI) are seen by the
     * periodic checks of whoever holds a token.
     */
    onRevoke(fn: (userId: number) => void): () => void {
      revoked.add(fn);
      return () => revoked.delete(fn);
    },
  };
}
export type Auth = ReturnType<typeof createAuth>;
