import type { Sql } from "../storage/sql";
import type { User, UserStore } from "../auth/user-store";
import { badRequest, conflict, forbidden, KefuError, notFound } from "../errors/kefu-error";
import { MAX_TEXT, MAX_TITLE, type CannedCreateBody, type CannedPatchBody, type CannedReplyView } from "./schemas";
import { type CannedFields, type CannedReply, createCannedStore, DuplicateShortcut } from "./store";

/** Most replies one account may own; the list an agent gets (own + shared) is capped at LIST_LIMIT. */
export const MAX_OWNED = 500;
export const LIST_LIMIT = 2000;

const chars = (s: string) => (s.length <= MAX_TEXT ? s.length : [...s].length);

function checkText(raw: string): string {
  const text = raw.trim();
  if (!text) throw badRequest("text must not be empty");
  if (text.length > MAX_TEXT && chars(text) > MAX_TEXT) throw badRequest(`text must have at most ${MAX_TEXT} characters`);
  return text;
}

/** A title that is empty after trimming means none. */
function checkTitle(raw: string | null | undefined): string | null {
  const title = raw?.trim();
  if (!title) return null;
  if ([...title].length > MAX_TITLE) throw badRequest(`title must have at most ${MAX_TITLE} characters`);
  return title;
}

const duplicate = (shortcut: string) => conflict(`you already have a canned reply with the shortcut /${shortcut}`);

/**
 * Who may do what: everyone signed in sees their own replies and the shared ones; the owner edits and
 * deletes their own; an admin also edits and deletes shared ones. Another agent's private reply is
 * "not found" to everyone else, admins included (it is not theirs to see).
 */
export function createCannedReplies(sql: Sql, users: Pick<UserStore, "get">) {
  const store = createCannedStore(sql);

  const view = async (r: CannedReply, names: Map<number, string>): Promise<CannedReplyView> => {
    let owner = names.get(r.ownerId);
    if (owner === undefined) {
      const u = await users.get(r.ownerId);
      owner = u ? (u.displayName ?? u.name) : `#${r.ownerId}`;
      names.set(r.ownerId, owner);
    }
    return { id: r.id, shortcut: r.shortcut, ...(r.title === null ? {} : { title: r.title }), text: r.text, shared: r.shared, owner_id: r.ownerId, owner_name: owner };
  };

  /** The reply `user` may change, or the error that says why not. */
  const editable = async (user: User, id: number): Promise<CannedReply> => {
    const r = await store.get(id);
    if (!r || (r.ownerId !== user.id && !r.shared)) throw notFound(`canned reply ${id}`);
    if (r.ownerId !== user.id && user.role !== "admin") throw forbidden("only its owner or an admin may change a shared canned reply");
    return r;
  };

  const written = async (shortcut: string, write: () => Promise<CannedReply | null>): Promise<CannedReply | null> => {
    try {
      return await write();
    } catch (err) {
      if (err instanceof DuplicateShortcut) throw duplicate(shortcut);
      throw err;
    }
  };

  return {
    async list(user: User): Promise<CannedReplyView[]> {
      const names = new Map<number, string>();
      const out: CannedReplyView[] = [];
      for (const r of await store.visibleTo(user.id, LIST_LIMIT)) out.push(await view(r, names));
      return out;
    },
    async create(user: User, body: CannedCreateBody): Promise<CannedReplyView> {
      const fields: CannedFields = { shortcut: body.shortcut, title: checkTitle(body.title), text: checkText(body.text), shared: body.shared ?? false };
      if ((await store.countOwned(user.id)) >= MAX_OWNED) throw new KefuError("too_many_canned", 409, `an account may own at most ${MAX_OWNED} canned replies; delete some first`);
      return view((await written(fields.shortcut, () => store.add(user.id, fields)))!, new Map());
    },
    async update(user: User, id: number, body: CannedPatchBody): Promise<CannedReplyView> {
      const r = await editable(user, id);
      const fields: CannedFields = {
        shortcut: body.shortcut ?? r.shortcut,
        title: body.title === undefined ? r.title : checkTitle(body.title),
        text: body.text === undefined ? r.text : checkText(body.text),
        shared: body.shared ?? r.shared,
      };
      const next = await written(fields.shortcut, () => store.update(id, fields));
      if (!next) throw notFound(`canned reply ${id}`);
      return view(next, new Map());
    },
    async delete(user: User, id: number) {
      await editable(user, id);
      if (!(await store.delete(id))) throw notFound(`canned reply ${id}`);
    },
  };
}
export type CannedReplies = ReturnType<typeof createCannedReplies>;
