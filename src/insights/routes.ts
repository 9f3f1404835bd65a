import { Elysia, t } from "elysia";
import type { accessPlugin } from "../auth/access";
import { ConversationState } from "../chat/schemas";
import { toFrame } from "../chat/frame-render";
import { badRequest, conflict, KefuError, notFound } from "../errors/kefu-error";
import { cleanEntry, defaultEntryId } from "../kb/engine";
import { entryHitsShared, entryView } from "../kb/entry-list";
import { MAX_ALT_QUESTIONS, MAX_QUESTION_CHARS } from "../kb/schemas";
import type { EntryInput } from "../kb/types";
import type { AppContext } from "../server/context";
import { dashboard } from "./dashboard";
import { agentReplyOf, phrasingsOf, unansweredGroups } from "./unanswered";

/**
 * Admin REST API of the insights (docs/api.md, "Unanswered questions", "Dashboard", "Conversations"): what the
 * bot could not answer and turning it into entries, the dashboard's figures, and browsing transcripts.
 */

const strict = { additionalProperties: false } as const;
const DAY = 86_400_000;
const LogIds = t.Array(t.Integer({ minimum: 1 }), { minItems: 1, maxItems: 5000 });
const Phrasing = t.String({ minLength: 1, maxLength: MAX_QUESTION_CHARS });

/**
 * The entry a resolve writes, within the entry API's limits (else the console could not save it back unchanged):
 * at most MAX_ALT_QUESTIONS alternatives once duplicates are folded, or a 400 and nothing written.
 */
function withinLimits(e: EntryInput): EntryInput {
  const n = cleanEntry(e).alts.length;
  if (n > MAX_ALT_QUESTIONS) {
    throw new KefuError("too_many_alternatives", 400, `the entry would have ${n} alternative questions (at most ${MAX_ALT_QUESTIONS}): pass fewer phrasings`);
  }
  return e;
}

const UnansweredQuery = t.Object(
  {
    days: t.Optional(t.Integer({ minimum: 1, maximum: 366 })),
    limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000 })),
    source: t.Optional(t.Union([t.Literal("chat"), t.Literal("api")])),
  },
  strict,
);
const ResolveBody = t.Object(
  {
    log_ids: LogIds,
    /** A new entry; `answer` defaults to the agent's reply to the group. */
    entry: t.Optional(
      t.Object(
        {
          question: t.String({ minLength: 1, maxLength: 2000 }),
          alt_questions: t.Optional(t.Array(Phrasing, { maxItems: 500 })),
          answer: t.Optional(t.String({ minLength: 1, maxLength: 20_000 })),
          tags: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 })),
        },
        strict,
      ),
    ),
    /** Or an existing entry that gets the phrasings. */
    entry_id: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
    /** The phrasings to add as alternative questions; default: the rows' distinct questions. */
    phrasings: t.Optional(t.Array(Phrasing, { maxItems: 500 })),
  },
  strict,
);
const DismissBody = t.Object({ log_ids: LogIds }, strict);
const DashboardQuery = t.Object({ days: t.Optional(t.Integer({ minimum: 1, maximum: 366 })) }, strict);
const ConversationsQuery = t.Object(
  {
    q: t.Optional(t.String({ maxLength: 200 })),
    state: t.Optional(ConversationState),
    agent_id: t.Optional(t.Integer({ minimum: 1 })),
    tag: t.Optional(t.String({ minLength: 1, maxLength: 32 })),
    rating: t.Optional(t.Integer({ minimum: 1, maximum: 5 })),
    from: t.Optional(t.String({ minLength: 1, maxLength: 40 })),
    to: t.Optional(t.String({ minLength: 1, maxLength: 40 })),
    visitor: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
    offset: t.Optional(t.Integer({ minimum: 0, maximum: 1_000_000 })),
    limit: t.Optional(t.Integer({ minimum: 1, maximum: 200 })),
  },
  strict,
);
const ConversationParams = t.Object({ id: t.String({ minLength: 1, maxLength: 100 }) });
const TranscriptQuery = t.Object(
  { after_seq: t.Optional(t.Integer({ minimum: 0 })), limit: t.Optional(t.Integer({ minimum: 1, maximum: 2000 })) },
  strict,
);

/** A date (`2026-12-01`, the start of that day in UTC) or a date-time; `end`: a bare date means its last millisecond. */
function parseTime(name: string, value: string | undefined, end = false): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw badRequest(`${name} is not an ISO-8601 date or date-time: ${value}`);
  return end && /^\d{4}-\d{2}-\d{2}$/.test(value) ? ms + DAY - 1 : ms;
}

const TIME_KEYS = new Set(["created_at", "updated_at", "queued_at", "first_seen_at", "at"]);

/** The chat's shapes with their Unix-ms times as ISO-8601 strings (the admin API's convention). */
export function isoTimes<T>(value: T): T {
  if (Array.isArray(value)) return value.map(isoTimes) as T;
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = TIME_KEYS.has(k) && typeof v === "number" ? new Date(v).toISOString() : isoTimes(v);
  return out as T;
}

export function insightsRoutes(ctx: Pick<AppContext, "db" | "sql" | "kb" | "chat" | "insights" | "config">, access: ReturnType<typeof accessPlugin>) {
  const { db, sql, kb, chat, insights } = ctx;

  /** The rows named, all of them, or a 404 naming the missing ids. */
  const rowsOf = async (ids: number[]) => {
    const unique = [...new Set(ids)];
    const rows = await insights.byIds(unique);
    if (rows.length < unique.length) {
      const found = new Set(rows.map((r) => r.id));
      throw new KefuError("not_found", 404, `answer log rows not found: ${unique.filter((id) => !found.has(id)).join(", ")}`);
    }
    return rows;
  };

  return new Elysia({ name: "insights", prefix: "/api/admin" })
    .use(access)
    .get("/unanswered", async ({ query }) => ({ groups: await unansweredGroups(sql, { since: Date.now() - (query.days ?? 30) * DAY, limit: query.limit, source: query.source }) }), {
      access: "admin",
      query: UnansweredQuery,
    })
    .post(
      "/unanswered/resolve",
      async ({ body }) => {
        if ((body.entry === undefined) === (body.entry_id === undefined)) throw badRequest("give either entry (a new entry) or entry_id (an existing one)");
        const rows = await rowsOf(body.log_ids);
        // A visitor's question longer than an entry's question may be (the log keeps 4,000 characters) is no phrasing to add.
        const phrasings = body.phrasings ?? phrasingsOf(rows.map((r) => r.question)).filter((p) => p.length <= MAX_QUESTION_CHARS);
        let id: string;
        if (body.entry_id !== undefined) {
          const old = kb.get(body.entry_id);
          if (!old) throw notFound(`entry ${body.entry_id}`);
          await kb.upsert([withinLimits({ id: old.id, question: old.question, alts: [...old.alts, ...phrasings], answer: old.answer, tags: old.tags, enabled: old.enabled })]);
          id = old.id;
        } else {
          const e = body.entry!;
          const answer = e.answer ?? (await agentReplyOf(sql, rows.map((r) => r.id)));
          if (!answer) throw new KefuError("answer_required", 400, "entry.answer is required: no agent replied to these questions");
          id = defaultEntryId(e.question);
          if (kb.get(id)) throw conflict(`entry ${id} already has this question: add the phrasings to it with entry_id`);
          const r = await kb.upsert([withinLimits({ id, question: e.question, alts: [...(e.alt_questions ?? []), ...phrasings], answer, tags: e.tags })]);
          id = r.ids[0]!;
        }
        await insights.resolve(rows.map((r) => r.id), `entry:${id}`);
        return { entry: entryView(kb.get(id)!, (await entryHitsShared(db, sql, [id])).get(id)) };
      },
      { access: "admin", body: ResolveBody },
    )
    .post("/unanswered/dismiss", async ({ body }) => ({ dismissed: await insights.resolve((await rowsOf(body.log_ids)).map((r) => r.id), "dismissed") }), {
      access: "admin",
      body: DismissBody,
    })
    .get("/dashboard", ({ query }) => dashboard(sql, { days: query.days ?? 14, timezone: ctx.config.hours.timezone }), { access: "admin", query: DashboardQuery })
    .get(
      "/conversations",
      async ({ query }) => {
        const filter = {
          q: query.q,
          state: query.state,
          agentId: query.agent_id,
          tag: query.tag,
          rating: query.rating,
          from: parseTime("from", query.from),
          to: parseTime("to", query.to, true),
          visitor: query.visitor,
          offset: query.offset ?? 0,
          limit: query.limit ?? 50,
        };
        return { total: await chat.searchTotal(filter), conversations: isoTimes(await chat.search(filter)) };
      },
      { access: "admin", query: ConversationsQuery },
    )
    .get(
      "/conversations/:id",
      async ({ params, query }) => {
        const conversation = await chat.detail(params.id);
        if (!conversation) throw notFound("conversation");
        const limit = query.limit ?? 500;
        const rows = await chat.messagesAfter(params.id, query.after_seq ?? 0, limit + 1);
        return {
          conversation: isoTimes(conversation),
          messages: isoTimes(rows.slice(0, limit).map(toFrame)),
          has_more: rows.length > limit,
          notes: isoTimes(await chat.notes(params.id)),
        };
      },
      { access: "admin", params: ConversationParams, query: TranscriptQuery },
    );
}
