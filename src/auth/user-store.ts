import { isUniqueViolation, type Sql, type SqlValue } from "../storage/sql";
import { conflict, KefuError } from "../errors/kefu-error";

export type Role = "admin" | "agent";

export interface User {
  id: number;
  name: string;
  role: Role;
  displayName: string | null;
  maxConcurrent: number;
  disabled: boolean;
  createdAt: number;
}

interface Row {
  id: number;
  name: string;
  role: Role;
  display_name: string | null;
  max_concurrent: number;
  disabled: number;
  created_at: number;
}

const toUser = (r: Row): User => ({
  id: r.id,
  name: r.name,
  role: r.role,
  displayName: r.display_name,
  maxConcurrent: r.max_concurrent,
  disabled: r.disabled === 1,
  createdAt: r.created_at,
});

/** What an admin may change of an account (values already validated). */
export interface UserPatch {
  displayName?: string | null;
  role?: Role;
  maxConcurrent?: number;
  disabled?: boolean;
}

/** All SQL about accounts. Passwords arrive here already hashed. */
export interface UserStore {
  /** 409 when the name is taken. */
  add(input: { name: string; role: Role; passwordHash: string; displayName?: string; maxConcurrent?: number }): Promise<User>;
  /** The user and its hash, for password checks only. */
  credentials(name: string): Promise<{ user: User; passwordHash: string } | null>;
  get(id: number): Promise<User | null>;
  list(): Promise<User[]>;
  /** Sets or (null) clears the name visitors see; the value is already validated (see displayName()). */
  setDisplayName(id: number, displayName: string | null): Promise<User | null>;
  /** A disabled account cannot sign in, and its tokens stop working at once (authenticate checks it). */
  setDisabled(id: number, disabled: boolean): Promise<User | null>;
  /**
   * Applies `patch` in one transaction. Refused (409 last_admin) when it would leave no enabled admin: the
   * account is the last enabled admin and the patch demotes or disables it.
   */
  update(id: number, patch: UserPatch): Promise<User | null>;
  setPassword(id: number, passwordHash: string): Promise<void>;
  /**
   * True when the account is enabled and its password is still `passwordHash` (the one a login verified).
   * Inside a transaction it holds the account's row until the commit (PostgreSQL: a no-op UPDATE takes the
   * row lock), so a password change or a disable either commits before (false) or waits for it.
   */
  stillSignsIn(id: number, passwordHash: string): Promise<boolean>;
  count(role?: Role): Promise<number>;
}

export function createUserStore(sql: Sql): UserStore {
  const pg = sql.dialect === "postgres";
  // Names compare without case (SQLite: the column's COLLATE NOCASE; PostgreSQL: the unique index on lower(name)).
  const byName = pg ? "SELECT * FROM users WHERE lower(name) = lower(?)" : "SELECT * FROM users WHERE name = ?";
  const byId = "SELECT * FROM users WHERE id = ?";
  // PostgreSQL: the rows of the enabled admins stay locked until the commit, so two demotions at once cannot both pass the check.
  const admins = pg
    ? "SELECT count(*) AS n FROM (SELECT id FROM users WHERE role = 'admin' AND disabled = 0 FOR UPDATE) AS a"
    : "SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled = 0";
  return {
    async add(input) {
      if (await sql.get(byName, [input.name])) throw conflict(`user ${input.name} already exists`);
      try {
        const row = await sql.get<Row>(
          "INSERT INTO users (name, role, password_hash, display_name, max_concurrent, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
          [input.name, input.role, input.passwordHash, input.displayName ?? null, input.maxConcurrent ?? 5, Date.now()],
        );
        return toUser(row!);
      } catch (err) {
        // Added meanwhile (another request or node between the check and the insert).
        throw isUniqueViolation(err) ? conflict(`user ${input.name} already exists`) : err;
      }
    },
    async credentials(name) {
      const r = await sql.get<Row & { password_hash: string }>(byName, [name]);
      return r ? { user: toUser(r), passwordHash: r.password_hash } : null;
    },
    async get(id) {
      const r = await sql.get<Row>(byId, [id]);
      return r ? toUser(r) : null;
    },
    async list() {
      return (await sql.all<Row>("SELECT * FROM users ORDER BY id")).map(toUser);
    },
    async setDisplayName(id, displayName) {
      const r = await sql.get<Row>("UPDATE users SET display_name = ? WHERE id = ? RETURNING *", [displayName, id]);
      return r ? toUser(r) : null;
    },
    async setDisabled(id, disabled) {
      const r = await sql.get<Row>("UPDATE users SET disabled = ? WHERE id = ? RETURNING *", [disabled ? 1 : 0, id]);
      return r ? toUser(r) : null;
    },
    update(id, patch) {
      return sql.transaction(async () => {
        const before = await sql.get<Row>(byId, [id]);
        if (!before) return null;
        const wasAdmin = before.role === "admin" && before.disabled === 0;
        const staysAdmin = (patch.role ?? before.role) === "admin" && !(patch.disabled ?? before.disabled === 1);
        if (wasAdmin && !staysAdmin) {
          const n = (await sql.get<{ n: number }>(admins))!.n;
          if (n <= 1) throw new KefuError("last_admin", 409, `${before.name} is the last enabled admin: make another admin first`);
        }
        const sets: string[] = [];
        const args: SqlValue[] = [];
        if (patch.displayName !== undefined) sets.push("display_name = ?"), args.push(patch.displayName);
        if (patch.role !== undefined) sets.push("role = ?"), args.push(patch.role);
        if (patch.maxConcurrent !== undefined) sets.push("max_concurrent = ?"), args.push(patch.maxConcurrent);
        if (patch.disabled !== undefined) sets.push("disabled = ?"), args.push(patch.disabled ? 1 : 0);
        if (sets.length === 0) return toUser(before);
        // Column names only (at most 16 texts): the values are bound.
        return toUser((await sql.get<Row>(`UPDATE users SET ${sets.join(", ")} WHERE id = ? RETURNING *`, [...args, id]))!);
      });
    },
    async setPassword(id, passwordHash) {
      await sql.run("UPDATE users SET password_hash = ? WHERE id = ?", [passwordHash, id]);
    },
    async stillSignsIn(id, passwordHash) {
      const res = await sql.run("UPDATE users SET password_hash = password_hash WHERE id = ? AND password_hash = ? AND disabled = 0", [id, passwordHash]);
      return res.changes > 0;
    },
    async count(role) {
      const r = role
        ? await sql.get<{ n: number }>("SELECT count(*) AS n FROM users WHERE role = ?", [role])
        : await sql.get<{ n: number }>("SELECT count(*) AS n FROM users");
      return r!.n;
    },
  };
}
