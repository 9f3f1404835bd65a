import { isUniqueViolation, type Sql } from "../storage/sql";

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

/** All SQL about canned replies. Values arrive validated (see service.ts); owner names are not joined here. */
export interface CannedStore {
  get(id: number): Promise<CannedReply | null>;
  /** The replies of `userId` and every shared one, at most `limit`. */
  visibleTo(userId: number, limit: number): Promise<CannedReply[]>;
  countOwned(userId: number): Promise<number>;
  /** DuplicateShortcut when the owner has one with that shortcut. */
  add(ownerId: number, f: CannedFields): Promise<CannedReply>;
  update(id: number, f: CannedFields): Promise<CannedReply | null>;
  delete(id: number): Promise<boolean>;
}

export function createCannedStore(sql: Sql): CannedStore {
  const byId = "SELECT * FROM canned_replies WHERE id = ?";
  // Mine first, then the shared ones of others; each by shortcut. (A comparison sorts false first on both engines.)
  // By code point on both: PostgreSQL sorts text by the database's collation (en_US: "apple" before "Banana",
  // punctuation ignored) unless told COLLATE "C", SQLite by code point.
  const shortcut = sql.dialect === "postgres" ? 'shortcut COLLATE "C"' : "shortcut";
  const visible = `SELECT * FROM canned_replies WHERE owner_id = ?1 OR shared = 1 ORDER BY owner_id != ?1, ${shortcut}, id LIMIT ?2`;
  const owned = "SELECT count(*) AS n FROM canned_replies WHERE owner_id = ?";
  const insert =
    "INSERT INTO canned_replies (owner_id, shortcut, title, text, shared, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *";
  const replace = "UPDATE canned_replies SET shortcut = ?, title = ?, text = ?, shared = ?, updated_at = ? WHERE id = ? RETURNING *";
  return {
    async get(id) {
      const r = await sql.get<Row>(byId, [id]);
      return r ? toReply(r) : null;
    },
    async visibleTo(userId, limit) {
      return (await sql.all<Row>(visible, [userId, limit])).map(toReply);
    },
    async countOwned(userId) {
      return (await sql.get<{ n: number }>(owned, [userId]))!.n;
    },
    async add(ownerId, f) {
      const now = Date.now();
      try {
        return toReply((await sql.get<Row>(insert, [ownerId, f.shortcut, f.title, f.text, f.shared ? 1 : 0, now, now]))!);
      } catch (err) {
        throw isUniqueViolation(err) ? new DuplicateShortcut() : err;
      }
    },
    async update(id, f) {
      try {
        const r = await sql.get<Row>(replace, [f.shortcut, f.title, f.text, f.shared ? 1 : 0, Date.now(), id]);
        return r ? toReply(r) : null;
      } catch (err) {
        throw isUniqueViolation(err) ? new DuplicateShortcut() : err;
      }
    },
    async delete(id) {
      return (await sql.run("DELETE FROM canned_replies WHERE id = ?", [id])).changes > 0;
    },
  };
}
