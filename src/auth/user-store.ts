import type { Database } from "bun:sqlite";
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
export function createUserStore(db: Database) {
  const byName = db.query<Row & { password_hash: string }, [string]>("SELECT * FROM users WHERE name = ?");
  const byId = db.query<Row, [number]>("SELECT * FROM users WHERE id = ?");
  return {
    add(input: { name: string; role: Role; passwordHash: string; displayName?: string; maxConcurrent?: number }): User {
      if (byName.get(input.name)) throw conflict(`user ${input.name} already exists`);
      const row = db
        .query<Row, [string, string, string, string | null, number, number]>(
          "INSERT INTO users (name, role, password_hash, display_name, max_concurrent, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .get(input.name, input.role, input.passwordHash, input.displayName ?? null, input.maxConcurrent ?? 5, Date.now())!;
      return toUser(row);
    },
    /** The user and its hash, for password checks only. */
    credentials(name: string): { user: User; passwordHash: string } | null {
      const r = byName.get(name);
      return r ? { user: toUser(r), passwordHash: r.password_hash } : null;
    },
    get(id: number): User | null {
      const r = byId.get(id);
      return r ? toUser(r) : null;
    },
    list(): User[] {
      return db.query<Row, []>("SELECT * FROM users ORDER BY id").all().map(toUser);
    },
    /** Sets or (null) clears the name visitors see; the value is already validated (see displayName()). */
    setDisplayName(id: number, displayName: string | null): User | null {
      const r = db.query<Row, [string | null, number]>("UPDATE users SET display_name = ? WHERE id = ? RETURNING *").get(displayName, id);
      return r ? toUser(r) : null;
    },
    /** A disabled account cannot sign in, and its tokens stop working at once (authenticate checks it). */
    setDisabled(id: number, disabled: boolean): User | null {
      const r = db.query<Row, [number, number]>("UPDATE users SET disabled = ? WHERE id = ? RETURNING *").get(disabled ? 1 : 0, id);
      return r ? toUser(r) : null;
    },
    /**
     * Applies `patch` in one transaction. Refused (409 last_admin) when it would leave no enabled admin: the
     * account is the last enabled admin and the patch demotes or disables it.
     */
    update(id: number, patch: UserPatch): User | null {
      return db.transaction(() => {
        const before = byId.get(id);
        if (!before) return null;
        const wasAdmin = before.role === "admin" && before.disabled === 0;
        const staysAdmin = (patch.role ?? before.role) === "admin" && !(patch.disabled ?? before.disabled === 1);
        if (wasAdmin && !staysAdmin) {
          const admins = db.query<{ n: number }, []>("SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled = 0").get()!.n;
          if (admins <= 1) throw new KefuError("last_admin", 409, `${before.name} is the last enabled admin: make another admin first`);
        }
        const sets: string[] = [];
        const args: (string | number | null)[] = [];
        if (patch.displayName !== undefined) sets.push("display_name = ?"), args.push(patch.displayName);
        if (patch.role !== undefined) sets.push("role = ?"), args.push(patch.role);
        if (patch.maxConcurrent !== undefined) sets.push("max_concurrent = ?"), args.push(patch.maxConcurrent);
        if (patch.disabled !== undefined) sets.push("disabled = ?"), args.push(patch.disabled ? 1 : 0);
        if (sets.length === 0) return toUser(before);
        return toUser(db.query<Row, (string | number | null)[]>(`UPDATE users SET ${sets.join(", ")} WHERE id = ? RETURNING *`).get(...args, id)!);
      })();
    },
    setPassword(id: number, passwordHash: string) {
      db.run("UPDATE users SET password_hash = ? WHERE id = ?", [passwordHash, id]);
    },
    count(role?: Role): number {
      return role
        ? db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM users WHERE role = ?").get(role)!.n
        : db.query<{ n: number }, []>("SELECT count(*) AS n FROM users").get()!.n;
    },
  };
}
export type UserStore = ReturnType<typeof createUserStore>;
