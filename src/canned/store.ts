import type { Database } from "bun:sqlite";
import { SQLiteError } from "bun:sqlite";

export interface CannedReply {
  id: number;
  ownerId: number;
  shortcut: string;
  title: string | null;
  text: string;
  shared: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface CannedFields {
  shortcut: string;
  title: string | null;
  text: string;
  shared: boolean;
}

interface Row {
  id: number;
  owner_id: number;
  shortcut: string;
  title: string | null;
  text: string;
  shared: number;
  created_at: number;
  updated_at: number;
}

const toReply = (r: Row): CannedReply => ({
  id: r.id,
  ownerId: r.owner_id,
  shortcut: r.shortcut,
  title: r.title,
  text: r.text,
  shared: r.shared === 1,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Thrown by add/update when the owner already has a reply with that shortcut. */
export class DuplicateShortcut extends Error {}

const isDuplicate = (err: unknown) => err instanceof SQLiteError && err.code === "SQLITE_CONSTRAINT_UNIQUE";

/** All SQL about canned replies. Values arrive validated (see service.ts); owner names are not joined here. */
export function createCannedStore(db: Database) {
  const byId = db.query<Row, [number]>("SELECT * FROM canned_replies WHERE id = ?");
  // Mine first, then the shared ones of others; each by shortcut.
  const visible = db.query<Row, [number, number]>(
    "SELECT * FROM canned_replies WHERE owner_id = ?1 OR shared = 1 ORDER BY owner_id != ?1, shortcut, id LIMIT ?2",
  );
  const owned = db.query<{ n: number }, [number]>("SELECT count(*) AS n FROM canned_replies WHERE owner_id = ?");
  const insert = db.query<Row, [number, string, string | null, string, number, number, number]>(
    "INSERT INTO canned_replies (owner_id, shortcut, title, text, shared, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
  );
  const replace = db.query<Row, [string, string | null, string, number, number, number]>(
    "UPDATE canned_replies SET shortcut = ?, title = ?, text = ?, shared = ?, updated_at = ? WHERE id = ? RETURNING *",
  );
  const remove = db.query<null, [number]>("DELETE FROM canned_replies WHERE id = ?");
  return {
    get(id: number): CannedReply | null {
      const r = byId.get(id);
      return r ? toReply(r) : null;
    },
    /** The replies of `userId` and every shared one, at most `limit`. */
    visibleTo(userId: number, limit: number): CannedReply[] {
      return visible.all(userId, limit).map(toReply);
    },
    countOwned(userId: number): number {
      return owned.get(userId)!.n;
    },
    add(ownerId: number, f: CannedFields): CannedReply {
      const now = Date.now();
      try {
        return toReply(insert.get(ownerId, f.shortcut, f.title, f.text, f.shared ? 1 : 0, now, now)!);
      } catch (err) {
        throw isDuplicate(err) ? new DuplicateShortcut() : err;
      }
    },
    update(id: number, f: CannedFields): CannedReply | null {
      try {
        const r = replace.get(f.shortcut, f.title, f.text, f.shared ? 1 : 0, Date.now(), id);
        return r ? toReply(r) : null;
      } catch (err) {
        throw isDuplicate(err) ? new DuplicateShortcut() : err;
      }
    },
    delete(id: number): boolean {
      return remove.run(id).changes > 0;
    },
  };
}
export type CannedStore = ReturnType<typeof createCannedStore>;
