import { KefuError } from "../errors/kefu-error";
import type { AgentRef, Choice, ConversationState, ConversationSummary, Rating, Sender, Source, VisitorContext } from "./schemas";
import type { Sql, SqlValue } from "../storage/sql";
import { storableJson } from "../insights/json-sql";
import type { Lang } from "./texts";

export interface Conversation {
  id: string;
  visitorId: string;
  state: ConversationState;
  agentId: number | null;
  lang: Lang;
  lastSeq: number;
  botMisses: number;
  createdAt: number;
  updatedAt: number;
  queuedAt: number | null;
  queuedReason: string | null;
}

/** Extra facts stored with a message row (JSON). */
export interface MessageMeta {
  sources?: Source[];
  /** The agent who wrote the message, or who owns the conversation after a state change. */
  agent?: AgentRef;
  /** The new state, for state rows. */
  state?: ConversationState;
  /** Why a state changed (keyword, bot_misses, claim, transfer, ...), for agents and audits. */
  reason?: string;
  /** "Did you mean …" entries a bot message offered (a later `choose` must name one of them). */
  choices?: Choice[];
  /** The entry a visitor message picked from offered choices. */
  choice?: string;
}

export interface StoredMessage {
  conversationId: string;
  seq: number;
  kind: "text" | "state";
  sender: Sender;
  text: string;
  clientId: string | null;
  agentId: number | null;
  meta: MessageMeta | null;
  createdAt: number;
}

interface ConvRow {
  id: string;
  visitor_id: string;
  state: ConversationState;
  agent_id: number | null;
  lang: Lang;
  last_seq: number;
  bot_misses: number;
  created_at: number;
  updated_at: number;
  queued_at: number | null;
  queued_reason: string | null;
}
interface MsgRow {
  conversation_id: string;
  seq: number;
  kind: "text" | "state";
  sender: Sender;
  text: string;
  client_id: string | null;
  agent_id: number | null;
  meta: string | null;
  created_at: number;
}
interface SummaryRow extends ConvRow {
  agent_name: string | null;
  last_text: string | null;
  last_visitor_seq: number;
  tags: string;
  rating_score: number | null;
  rating_comment: string | null;
  visitor_name: string | null;
  visitor_email: string | null;
  visitor_external_id: string | null;
  visitor_verified: number;
}

const toConv = (r: ConvRow): Conversation => ({
  id: r.id,
  visitorId: r.visitor_id,
  state: r.state,
  agentId: r.agent_id,
  lang: r.lang,
  lastSeq: r.last_seq,
  botMisses: r.bot_misses,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  queuedAt: r.queued_at,
  queuedReason: r.queued_reason,
});
const toMsg = (r: MsgRow): StoredMessage => ({
  conversationId: r.conversation_id,
  seq: r.seq,
  kind: r.kind,
  sender: r.sender,
  text: r.text,
  clientId: r.client_id,
  agentId: r.agent_id,
  meta: r.meta ? (JSON.parse(r.meta) as MessageMeta) : null,
  createdAt: r.created_at,
});
const toSummary = (r: SummaryRow): ConversationSummary => ({
  conversation_id: r.id,
  visitor_id: r.visitor_id,
  state: r.state,
  ...(r.agent_id !== null && r.agent_name !== null ? { agent: { id: r.agent_id, name: r.agent_name } } : {}),
  lang: r.lang,
  last_seq: r.last_seq,
  ...(r.last_text !== null ? { last_text: r.last_text.slice(0, 200) } : {}),
  last_visitor_seq: r.last_visitor_seq,
  visitor: {
    id: r.visitor_id,
    ...(r.visitor_name !== null ? { name: r.visitor_name } : {}),
    ...(r.visitor_email !== null ? { email: r.visitor_email } : {}),
    verified: r.visitor_verified === 1,
    ...(r.visitor_external_id !== null ? { external_id: r.visitor_external_id } : {}),
  },
  tags: JSON.parse(r.tags) as string[],
  ...(r.rating_score !== null ? { rating: { score: r.rating_score, ...(r.rating_comment !== null ? { comment: r.rating_comment } : {}) } } : {}),
  created_at: r.created_at,
  updated_at: r.updated_at,
  ...(r.queued_at !== null ? { queued_at: r.queued_at } : {}),
  ...(r.state === "queued" && r.queued_reason !== null ? { queued_reason: r.queued_reason } : {}),
});

// last_text is the visitor's last message (a notice or a reply says nothing about what the visitor wants).
const SUMMARY = `
  SELECT c.*, COALESCE(u.display_name, u.name) AS agent_name, lm.text AS last_text,
    v.name AS visitor_name, v.email AS visitor_email, v.external_id AS visitor_external_id, v.verified AS visitor_verified
  FROM chat_conversations c
  JOIN chat_visitors v ON v.id = c.visitor_id
  LEFT JOIN users u ON u.id = c.agent_id
  LEFT JOIN chat_messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_visitor_seq`;

/** `%`, `_` and `\` taken literally in a LIKE pattern (with ESCAPE '\'). */
const likeLiteral = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export interface SearchFilter {
  /** Visitor id, name, e-mail or shop user id, or text of a message. */
  q?: string;
  state?: ConversationState;
  limit: number;
  /** Only conversations last active before this time (Unix ms): the next page. */
  before?: number;
  /** The admin browser's filters (src/insights): owning or last agent, a tag, the rating, activity in [from, to] (Unix ms). */
  agentId?: number;
  tag?: string;
  rating?: number;
  from?: number;
  to?: number;
  /** Visitor id exactly, or part of the visitor's name, e-mail or shop user id. */
  visitor?: string;
  offset?: number;
}

/** The WHERE clause of a search (over `c` conversations and `v` visitors) and its arguments. */
function searchWhere(f: SearchFilter, pg: boolean) {
  const where: string[] = [];
  const args: SqlValue[] = [];
  /** Binds a value and returns its placeholder. */
  const arg = (v: string | number) => `?${args.push(v)}`;
  if (f.state) where.push(`c.state = ${arg(f.state)}`);
  if (f.before !== undefined) where.push(`c.updated_at < ${arg(f.before)}`);
  if (f.agentId !== undefined) {
    const id = arg(f.agentId);
    where.push(`(c.agent_id = ${id} OR EXISTS (SELECT 1 FROM chat_messages m WHERE m.conversation_id = c.id AND m.sender = 'agent' AND m.agent_id = ${id}))`);
  }
  if (f.tag) {
    where.push(
      pg
        ? `EXISTS (SELECT 1 FROM jsonb_array_elements_text(c.tags::jsonb) AS t(value) WHERE t.value = ${arg(f.tag)})`
        : `EXISTS (SELECT 1 FROM json_each(c.tags) WHERE value = ${arg(f.tag)})`,
    );
  }
  if (f.rating !== undefined) where.push(`c.rating_score = ${arg(f.rating)}`);
  if (f.from !== undefined) where.push(`c.updated_at >= ${arg(f.from)}`);
  if (f.to !== undefined) where.push(`c.created_at <= ${arg(f.to)}`);
  // SQLite's LIKE ignores ASCII case; PostgreSQL's does not.
  const LIKE = pg ? "ILIKE" : "LIKE";
  const visitor = f.visitor?.trim();
  if (visitor) {
    const like = `${arg(likeLiteral(visitor))} ESCAPE '\\'`;
    where.push(`(c.visitor_id = ${arg(visitor)} OR v.name ${LIKE} ${like} OR v.email ${LIKE} ${like} OR v.external_id ${LIKE} ${like})`);
  }
  const q = f.q?.trim();
  if (q) {
    const exact = arg(q);
    const like = `${arg(likeLiteral(q))} ESCAPE '\\'`;
    where.push(`(c.visitor_id = ${exact} OR c.id = ${exact} OR v.name ${LIKE} ${like} OR v.email ${LIKE} ${like} OR v.external_id ${LIKE} ${like}
      OR EXISTS (SELECT 1 FROM chat_messages m WHERE m.conversation_id = c.id AND m.kind = 'text' AND m.text ${LIKE} ${like}))`);
  }
  return { where: where.length ? `WHERE ${where.join(" AND ")}` : "", args, arg };
}

/**
 * All SQL about conversations and their messages (the contract the store suite tests on both drivers).
 * Every write that adds a row to the stream takes the next seq inside the same transaction as the insert
 * (`UPDATE … SET last_seq = last_seq + 1 … RETURNING`: on PostgreSQL the UPDATE holds the conversation's
 * row lock until the commit, so concurrent writers on several nodes queue there), so seq is gap-free and
 * a committed row is exactly what the ack promises.
 */
export interface ConversationStore {
  /** `forUpdate`: inside a transaction, lock the row until the commit (PostgreSQL; SQLite's write transaction already excludes everyone). */
  get(id: string, opts?: { forUpdate?: boolean }): Promise<Conversation | null>;
  /** The visitor's newest conversation that is not closed. */
  openOf(visitorId: string): Promise<Conversation | null>;
  /**
   * Stores a new conversation; `id` is the one a draft already announced to the visitor. Null when a
   * conversation with that id exists already (another tab or node stored the same draft first).
   */
  create(visitorId: string, lang: Lang, id?: string, context?: VisitorContext): Promise<Conversation | null>;
  /** The hello context, stored once: the page the conversation started on. */
  setContextIfUnset(id: string, context: VisitorContext): Promise<void>;
  context(id: string): Promise<VisitorContext>;
  setTags(id: string, tags: string[]): Promise<void>;
  /** Stores (or replaces) the visitor's rating; false when the conversation is not this visitor's. */
  rate(id: string, visitorId: string, rating: Rating): Promise<boolean>;
  /**
   * A conversation a visitor has been told about but that is not stored until they write: a hello
   * alone costs no row, so opening sockets cannot fill the database. (No storage: synchronous.)
   */
  draft(visitorId: string, lang: Lang): Conversation;
  /**
   * Appends a text message. A client_id already stored in the conversation returns the stored message
   * with duplicate = true instead of inserting again (409 duplicate_client_id for another sender).
   */
  appendText(conversationId: string, m: NewMessage): Promise<{ message: StoredMessage; duplicate: boolean }>;
  /**
   * Moves a conversation from `from` to `to` and records the change as a state row in the stream.
   * Null (and nothing changed) when the conversation is no longer in `from`: the caller lost a race.
   */
  changeState(
    conversationId: string,
    from: ConversationState,
    to: ConversationState,
    agentId: number | null,
    m: NewMessage,
    /**
     * The owner the caller read with `from` (null: none). Given, the change also needs the conversation to
     * still have that owner: `agent → x` decided on agent A's conversation must not apply once B took it over
     * (same state, another owner). Omitted: the state alone is checked.
     */
    fromAgentId?: number | null,
  ): Promise<{ conversation: Conversation; message: StoredMessage } | null>;
  messagesAfter(conversationId: string, afterSeq: number, limit?: number): Promise<StoredMessage[]>;
  /** The last `limit` text messages (no state rows), oldest first: the LLM's history window. */
  lastTextMessages(conversationId: string, limit: number): Promise<StoredMessage[]>;
  /** The last `limit` rows of any kind, oldest first. */
  tail(conversationId: string, limit: number): Promise<StoredMessage[]>;
  /** The last `limit` rows of any kind, newest first (no second sort). */
  newestFirst(conversationId: string, limit: number): Promise<StoredMessage[]>;
  /** The choice with this entry id that a bot message of the conversation offered, newest offer first; null if none did. */
  offeredChoice(conversationId: string, entryId: string): Promise<Choice | null>;
  /**
   * The choices of the newest bot message that offered any, and whether that is the newest bot message
   * (only then may a bare number pick one: later, "2" is more likely a quantity than a choice).
   */
  latestChoices(conversationId: string): Promise<{ choices: Choice[]; latest: boolean }>;
  setBotMisses(conversationId: string, misses: number): Promise<void>;
  /** Raises (never lowers) how far the visitor has read. */
  setVisitorRead(conversationId: string, seq: number): Promise<void>;
  /** Queued conversations, oldest first. */
  queued(limit?: number): Promise<ConversationSummary[]>;
  oldestQueued(): Promise<Conversation | null>;
  /** Every conversation waiting for or owned by a human, most recently active first. */
  open(limit?: number): Promise<ConversationSummary[]>;
  /** Conversations matching a search, most recently active first. */
  search(f: SearchFilter): Promise<ConversationSummary[]>;
  /** How many conversations match a search (limit and offset aside). */
  searchTotal(f: SearchFilter): Promise<number>;
  /** The visitor's other conversations started before this one, newest first. */
  previous(id: string, limit?: number): Promise<ConversationSummary[]>;
  /** Conversations an agent currently owns. */
  ownedBy(agentId: number): Promise<ConversationSummary[]>;
  summary(id: string): Promise<ConversationSummary | null>;
  /** Number of conversations each agent owns right now. */
  loads(): Promise<Map<number, number>>;
}

const newConversationId = () => "c_" + Bun.randomUUIDv7("base64url");

export function createConversationStore(sql: Sql): ConversationStore {
  const pg = sql.dialect === "postgres";
  const getConv = "SELECT * FROM chat_conversations WHERE id = ?";
  const getConvLocked = pg ? `${getConv} FOR UPDATE` : getConv;
  const openOfVisitor = "SELECT * FROM chat_conversations WHERE visitor_id = ? AND state != 'closed' ORDER BY created_at DESC, id DESC LIMIT 1";
  const insertConv =
    "INSERT INTO chat_conversations (id, visitor_id, state, lang, created_at, updated_at, context) VALUES (?, ?, 'bot', ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING *";
  const nextSeq =
    "UPDATE chat_conversations SET last_seq = last_seq + 1, updated_at = ?1, last_visitor_seq = CASE WHEN ?2 = 1 THEN last_seq + 1 ELSE last_visitor_seq END WHERE id = ?3 RETURNING last_seq";
  const insertMsg =
    "INSERT INTO chat_messages (conversation_id, seq, kind, sender, text, client_id, agent_id, meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *";
  const byClientId = "SELECT * FROM chat_messages WHERE conversation_id = ? AND client_id = ?";
  const after = "SELECT * FROM chat_messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?";
  const lastText = "SELECT * FROM (SELECT * FROM chat_messages WHERE conversation_id = ? AND kind = 'text' ORDER BY seq DESC LIMIT ?) AS t ORDER BY seq";
  const tail = "SELECT * FROM (SELECT * FROM chat_messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?) AS t ORDER BY seq";
  const newest = "SELECT * FROM chat_messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?";
  const offered = pg
    ? `SELECT j.value ->> 'entry_id' AS entry_id, j.value ->> 'question' AS question
       FROM chat_messages m, jsonb_array_elements(m.meta::jsonb -> 'choices') AS j(value)
       WHERE m.conversation_id = ?1 AND m.sender = 'bot' AND m.meta IS NOT NULL AND j.value ->> 'entry_id' = ?2
       ORDER BY m.seq DESC LIMIT 1`
    : `SELECT json_extract(j.value, '$.entry_id') AS entry_id, json_extract(j.value, '$.question') AS question
       FROM chat_messages m, json_each(m.meta, '$.choices') j
       WHERE m.conversation_id = ?1 AND m.sender = 'bot' AND m.meta IS NOT NULL AND json_extract(j.value, '$.entry_id') = ?2
       ORDER BY m.seq DESC LIMIT 1`;
  // Asked for every visitor message (a choice typed back): the partial index of offers (chat-004) makes it one
  // lookup, where the primary key would read every bot row of the conversation. (INDEXED BY is SQLite's.)
  const latestOffer = pg
    ? "SELECT seq, meta FROM chat_messages WHERE conversation_id = ? AND sender = 'bot' AND (meta::jsonb -> 'choices') IS NOT NULL ORDER BY seq DESC LIMIT 1"
    : "SELECT seq, meta FROM chat_messages INDEXED BY chat_messages_offers WHERE conversation_id = ? AND sender = 'bot' AND json_extract(meta, '$.choices') IS NOT NULL ORDER BY seq DESC LIMIT 1";
  const latestBotSeq = "SELECT seq FROM chat_messages WHERE conversation_id = ? AND sender = 'bot' ORDER BY seq DESC LIMIT 1";
  const setState = `UPDATE chat_conversations SET state = ?1, agent_id = ?2, updated_at = ?3,
       queued_at = CASE WHEN ?1 = 'queued' THEN COALESCE(queued_at, ?3) ELSE NULL END,
       queued_reason = CASE WHEN ?1 = 'queued' THEN ?6 ELSE NULL END,
       closed_at = CASE WHEN ?1 = 'closed' THEN ?3 ELSE NULL END,
       bot_misses = CASE WHEN ?1 = 'bot' THEN 0 ELSE bot_misses END
     WHERE id = ?5 AND state = ?4 AND (?7 < 0 OR COALESCE(agent_id, 0) = ?7) RETURNING *`;
  const setVisitorRead = pg
    ? "UPDATE chat_conversations SET visitor_read_seq = GREATEST(visitor_read_seq, ?) WHERE id = ?"
    : "UPDATE chat_conversations SET visitor_read_seq = max(visitor_read_seq, ?) WHERE id = ?";
  const queued = `${SUMMARY} WHERE c.state = 'queued' ORDER BY c.queued_at, c.id LIMIT ?`;
  const open = `${SUMMARY} WHERE c.state IN ('queued', 'agent') ORDER BY c.updated_at DESC, c.id DESC LIMIT ?`;
  const previous = `${SUMMARY} JOIN chat_conversations this ON this.id = ?1
           WHERE c.visitor_id = this.visitor_id AND c.id != this.id AND (c.created_at < this.created_at OR (c.created_at = this.created_at AND c.id < this.id))
           ORDER BY c.created_at DESC, c.id DESC LIMIT ?2`;
  const ownedBy = `${SUMMARY} WHERE c.state = 'agent' AND c.agent_id = ? ORDER BY c.updated_at DESC`;
  const summary = `${SUMMARY} WHERE c.id = ?`;

  const append = async (conversationId: string, kind: "text" | "state", m: NewMessage): Promise<StoredMessage> => {
    const now = Date.now();
    const seq = await sql.get<{ last_seq: number }>(nextSeq, [now, kind === "text" && m.sender === "visitor" ? 1 : 0, conversationId]);
    if (!seq) throw new KefuError("not_found", 404, "conversation not found");
    const meta = m.meta && Object.keys(m.meta).length ? storableJson(m.meta) : null;
    const row = await sql.get<MsgRow>(insertMsg, [conversationId, seq.last_seq, kind, m.sender, m.text, m.clientId ?? null, m.agentId ?? null, meta, now]);
    return toMsg(row!);
  };

  return {
    async get(id, opts) {
      const r = await sql.get<ConvRow>(opts?.forUpdate ? getConvLocked : getConv, [id]);
      return r ? toConv(r) : null;
    },
    async openOf(visitorId) {
      const r = await sql.get<ConvRow>(openOfVisitor, [visitorId]);
      return r ? toConv(r) : null;
    },
    async create(visitorId, lang, id = newConversationId(), context) {
      const now = Date.now();
      const r = await sql.get<ConvRow>(insertConv, [id, visitorId, lang, now, now, context ? JSON.stringify(context) : null]);
      return r ? toConv(r) : null;
    },
    async setContextIfUnset(id, context) {
      await sql.run("UPDATE chat_conversations SET context = ? WHERE id = ? AND context IS NULL", [JSON.stringify(context), id]);
    },
    async context(id) {
      const r = await sql.get<{ context: string | null }>("SELECT context FROM chat_conversations WHERE id = ?", [id]);
      return r?.context ? (JSON.parse(r.context) as VisitorContext) : {};
    },
    async setTags(id, tags) {
      await sql.run("UPDATE chat_conversations SET tags = ? WHERE id = ?", [storableJson(tags), id]);
    },
    async rate(id, visitorId, rating) {
      const res = await sql.run("UPDATE chat_conversations SET rating_score = ?, rating_comment = ?, rated_at = ? WHERE id = ? AND visitor_id = ?", [
        rating.score,
        rating.comment ?? null,
        Date.now(),
        id,
        visitorId,
      ]);
      return res.changes > 0;
    },
    draft(visitorId, lang) {
      const now = Date.now();
      return { id: newConversationId(), visitorId, state: "bot", agentId: null, lang, lastSeq: 0, botMisses: 0, createdAt: now, updatedAt: now, queuedAt: null, queuedReason: null };
    },
    appendText(conversationId, m) {
      return sql.transaction(async () => {
        if (m.clientId) {
          // PostgreSQL: the conversation's row lock first, so the same message being stored by another node right
          // now is committed (and found below) before we look, instead of failing our insert on the unique index.
          if (pg) await sql.get("SELECT 1 AS locked FROM chat_conversations WHERE id = ? FOR UPDATE", [conversationId]);
          const existing = await sql.get<MsgRow>(byClientId, [conversationId, m.clientId]);
          if (existing) {
            if (existing.sender !== m.sender || (existing.agent_id ?? null) !== (m.agentId ?? null)) {
              throw new KefuError("duplicate_client_id", 409, "client_id already used by another sender");
            }
            return { message: toMsg(existing), duplicate: true };
          }
        }
        return { message: await append(conversationId, "text", m), duplicate: false };
      });
    },
    changeState(conversationId, from, to, agentId, m, fromAgentId) {
      // -1: any owner; 0: none (ids start at 1).
      const owner = fromAgentId === undefined ? -1 : (fromAgentId ?? 0);
      return sql.transaction(async () => {
        const row = await sql.get<ConvRow>(setState, [to, agentId, Date.now(), from, conversationId, m.meta?.reason ?? null, owner]);
        if (!row) return null;
        const message = await append(conversationId, "state", { ...m, meta: { ...m.meta, state: to } });
        return { conversation: toConv({ ...row, last_seq: message.seq }), message };
      });
    },
    async messagesAfter(conversationId, afterSeq, limit = 500) {
      return (await sql.all<MsgRow>(after, [conversationId, afterSeq, limit])).map(toMsg);
    },
    async lastTextMessages(conversationId, limit) {
      return (await sql.all<MsgRow>(lastText, [conversationId, limit])).map(toMsg);
    },
    async tail(conversationId, limit) {
      return (await sql.all<MsgRow>(tail, [conversationId, limit])).map(toMsg);
    },
    async newestFirst(conversationId, limit) {
      return (await sql.all<MsgRow>(newest, [conversationId, limit])).map(toMsg);
    },
    offeredChoice(conversationId, entryId) {
      return sql.get<Choice>(offered, [conversationId, entryId]);
    },
    async latestChoices(conversationId) {
      const r = await sql.get<{ seq: number; meta: string }>(latestOffer, [conversationId]);
      if (!r) return { choices: [], latest: false };
      const bot = await sql.get<{ seq: number }>(latestBotSeq, [conversationId]);
      return { choices: (JSON.parse(r.meta) as MessageMeta).choices ?? [], latest: bot?.seq === r.seq };
    },
    async setBotMisses(conversationId, misses) {
      await sql.run("UPDATE chat_conversations SET bot_misses = ? WHERE id = ?", [misses, conversationId]);
    },
    async setVisitorRead(conversationId, seq) {
      await sql.run(setVisitorRead, [seq, conversationId]);
    },
    async queued(limit = 200) {
      return (await sql.all<SummaryRow>(queued, [limit])).map(toSummary);
    },
    async oldestQueued() {
      const r = await sql.get<ConvRow>("SELECT * FROM chat_conversations WHERE state = 'queued' ORDER BY queued_at, id LIMIT 1");
      return r ? toConv(r) : null;
    },
    async open(limit = 200) {
      return (await sql.all<SummaryRow>(open, [limit])).map(toSummary);
    },
    async search(f) {
      const { where, args, arg } = searchWhere(f, pg);
      const text = `${SUMMARY} ${where} ORDER BY c.updated_at DESC, c.id DESC LIMIT ${arg(f.limit)} OFFSET ${arg(f.offset ?? 0)}`;
      return (await sql.all<SummaryRow>(text, args)).map(toSummary);
    },
    async searchTotal(f) {
      const { where, args } = searchWhere(f, pg);
      const text = `SELECT count(*) AS n FROM chat_conversations c JOIN chat_visitors v ON v.id = c.visitor_id ${where}`;
      return (await sql.get<{ n: number }>(text, args))!.n;
    },
    async previous(id, limit = 20) {
      return (await sql.all<SummaryRow>(previous, [id, limit])).map(toSummary);
    },
    async ownedBy(agentId) {
      return (await sql.all<SummaryRow>(ownedBy, [agentId])).map(toSummary);
    },
    async summary(id) {
      const r = await sql.get<SummaryRow>(summary, [id]);
      return r ? toSummary(r) : null;
    },
    async loads() {
      const rows = await sql.all<{ agent_id: number; n: number }>(
        "SELECT agent_id, count(*) AS n FROM chat_conversations WHERE state = 'agent' AND agent_id IS NOT NULL GROUP BY agent_id",
      );
      return new Map(rows.map((r) => [r.agent_id, r.n]));
    },
  };
}

export interface NewMessage {
  sender: Sender;
  text: string;
  clientId?: string;
  agentId?: number | null;
  meta?: MessageMeta;
}
