import { Elysia, t } from "elysia";
import type { accessPlugin } from "../auth/access";
import { KefuError, notFound, unauthorized } from "../errors/kefu-error";
import { choicesOf } from "../kb/decision";
import type { AppContext } from "../server/context";
import { corsHeaders, createOriginPolicy } from "../server/origins";
import { agentSocket } from "./agent-socket";
import { toFrame } from "./frame-render";
import { ConversationState, type Suggestion } from "./schemas";
import { createSocketGuard } from "./socket-guard";
import type { ChatSocket } from "./socket-io";
import { type SocketDeps, visitorSocket } from "./visitor-socket";

/** Close code sent to every chat socket on graceful shutdown ("going away"): clients reconnect elsewhere or later. */
export const CLOSE_SHUTDOWN = 1001;

/** Bus topic: tokens of an account were revoked on some node (its agent sockets everywhere recheck). */
const REVOKED_TOPIC = "auth:revoked";
type RevokedEvent = { user_id: number };

const upgradeRequired = () => new KefuError("upgrade_required", 426, "this endpoint only accepts WebSocket connections");

/**
 * Live chat: the visitor WebSocket (/ws), the agent WebSocket (/ws/agent),
 * conversation history and agent actions over HTTP. Used as a function plugin
 * because the WebSocket limits (frame size, idle timeout) are server-wide
 * settings of the app it is mounted on.
 */
export function chatPlugin(ctx: AppContext, access: ReturnType<typeof accessPlugin>) {
  const config = ctx.config.chat;
  const log = ctx.log.child({ feature: "chat" });
  const service = ctx.chat;
  const deps: SocketDeps = { service, bus: ctx.bus, log, sockets: new Set<ChatSocket>(), guard: createSocketGuard(config) };
  const origins = createOriginPolicy(ctx.config.server.allowed_origins);
  /** A browser page on an origin that may not embed the widget is refused; callers without Origin are not pages. */
  const checkOrigin = (request: Request) => {
    const origin = request.headers.get("origin");
    if (!origins.allows(origin, request.headers.get("host"))) {
      log.info("origin refused", { origin, host: request.headers.get("host"), fix: "add it to [server] allowed_origins" });
      throw new KefuError("origin_not_allowed", 403, "this web origin may not use the chat; add it to [server] allowed_origins");
    }
    return origin;
  };
  ctx.lifecycle.onShutdown(
    "chat",
    () => {
      for (const ws of [...deps.sockets]) ws.close(CLOSE_SHUTDOWN, "server shutting down");
    },
    "connections",
  );

  // Revocations (logout, password change, an account disabled) go over the bus: an agent's socket on another
  // node than the one that revoked ends at once too, not at its next periodic check (AGENT_RECHECK_MS).
  ctx.auth.onRevoke((userId) => ctx.bus.publish<RevokedEvent>(REVOKED_TOPIC, { user_id: userId }));
  const onRevoke = (fn: (userId: number) => void) => ctx.bus.subscribe<RevokedEvent>(REVOKED_TOPIC, (e) => fn(e.user_id));

  const summary = async (id: string) => {
    const s = await service.summary(id);
    if (!s) throw notFound("conversation");
    return s;
  };

  const mustExist = async (id: string) => {
    if (!(await service.getConversation(id))) throw notFound("conversation");
  };

  /** Agent assist: knowledge-base entries that may answer the visitor's current question (as "did you mean" would offer them). */
  const suggestions = async (id: string): Promise<{ question: string; suggestions: Suggestion[] }> => {
    await mustExist(id);
    const question = await service.currentQuestion(id);
    if (!question) return { question, suggestions: [] };
    const { matches } = await ctx.kb.search(question, { k: 3 });
    const worth = choicesOf(matches.filter((m) => m.confidence >= ctx.kb.thresholds.suggest));
    return { question, suggestions: worth.map((m) => ({ entry_id: m.id, question: m.question, answer: m.answer, confidence: m.confidence })) };
  };

  const routes = new Elysia({ name: "chat" })
    .use(access)
    .get(
      "/ws",
      ({ request, server, clientIp }) => {
        checkOrigin(request);
        const refused = deps.guard.refuse(clientIp);
        if (refused) {
          service.counters.refused.connections++;
          throw new KefuError("too_many_connections", 429, refused);
        }
        if (!server?.upgrade(request, { data: visitorSocket(deps, clientIp) })) throw upgradeRequired();
      },
      { access: "public" },
    )
    .get(
      "/ws/agent",
      ({ request, server, token, user }) => {
        const id = user!.id;
        // Re-resolved on every frame, on revocation and periodically: a revoked token or disabled account ends the socket.
        const current = async () => ((await ctx.auth.authenticate(token))?.id === id ? ctx.auth.users.get(id) : null);
        if (!server?.upgrade(request, { data: agentSocket(deps, id, current, onRevoke) })) throw upgradeRequired();
      },
      { access: { role: "agent", queryToken: true } },
    )
    // CORS preflight of the one visitor REST route: the widget on the shop's page reads history here.
    .options(
      "/api/conversations/:id/messages",
      ({ request, set }) => {
        const origin = checkOrigin(request);
        if (origin) Object.assign(set.headers, corsHeaders(origin, "GET"));
        set.status = 204;
      },
      { access: "public" },
    )
    .get(
      "/api/conversations/:id/messages",
      async ({ params, query, token, user, request, set }) => {
        const origin = checkOrigin(request);
        if (origin) Object.assign(set.headers, corsHeaders(origin, "GET"));
        // Visitors read their own history with their visitor token; staff read any.
        if (!token) throw unauthorized();
        const conv = await service.getConversation(params.id);
        if (!user) {
          const visitor = await service.visitorByToken(token);
          if (!visitor) throw unauthorized();
          if (!conv || conv.visitorId !== visitor.id) throw notFound("conversation");
        } else if (!conv) throw notFound("conversation");
        const limit = query.limit ?? 200;
        const rows = await service.messagesAfter(conv.id, query.after_seq ?? 0, limit + 1);
        return {
          conversation_id: conv.id,
          state: conv.state,
          last_seq: conv.lastSeq,
          messages: rows.slice(0, limit).map(toFrame),
          has_more: rows.length > limit,
        };
      },
      {
        access: "visitor",
        query: t.Object({
          after_seq: t.Optional(t.Integer({ minimum: 0 })),
          limit: t.Optional(t.Integer({ minimum: 1, maximum: 500 })),
        }),
      },
    )
    .get("/api/agent/queue", ({ user }) => service.queue(user!.id), { access: "agent" })
    .get(
      "/api/agent/conversations",
      async ({ query }) => ({ conversations: await service.search({ q: query.q, state: query.state, limit: query.limit ?? 50, before: query.before }) }),
      {
        access: "agent",
        query: t.Object({
          q: t.Optional(t.String({ maxLength: 200 })),
          state: t.Optional(ConversationState),
          limit: t.Optional(t.Integer({ minimum: 1, maximum: 100 })),
          before: t.Optional(t.Integer({ minimum: 0 })),
        }),
      },
    )
    .get(
      "/api/agent/conversations/:id",
      async ({ params }) => {
        const d = await service.detail(params.id);
        if (!d) throw notFound("conversation");
        return d;
      },
      { access: "agent" },
    )
    .get(
      "/api/agent/conversations/:id/notes",
      async ({ params }) => {
        await mustExist(params.id);
        return { notes: await service.notes(params.id) };
      },
      { access: "agent" },
    )
    .put("/api/agent/conversations/:id/tags", ({ params, body }) => service.setTags(params.id, body.tags), {
      access: "agent",
      body: t.Object({ tags: t.Array(t.String({ minLength: 1, maxLength: 32 }), { maxItems: 20 }) }),
    })
    .get("/api/agent/conversations/:id/suggestions", ({ params }) => suggestions(params.id), { access: "agent" })
    .post(
      "/api/agent/conversations/:id/claim",
      async ({ params, user }) => {
        await service.claim(user!, params.id);
        return summary(params.id);
      },
      { access: "agent" },
    )
    .post(
      "/api/agent/conversations/:id/messages",
      ({ params, body, user }) => service.agentSend(user!, params.id, body.client_id ?? crypto.randomUUID(), body.text),
      { access: "agent", body: t.Object({ client_id: t.Optional(t.String({ minLength: 1, maxLength: 64 })), text: t.String() }) },
    )
    .post(
      "/api/agent/conversations/:id/transfer",
      async ({ params, body, user }) => {
        await service.transfer(user!, params.id, body.agent_id);
        return summary(params.id);
      },
      { access: "agent", body: t.Object({ agent_id: t.Integer({ minimum: 1 }) }) },
    )
    .post(
      "/api/agent/conversations/:id/return_to_bot",
      async ({ params, user }) => {
        await service.returnToBot(user!, params.id);
        return summary(params.id);
      },
      { access: "agent" },
    )
    .post(
      "/api/agent/conversations/:id/close",
      async ({ params, user }) => {
        await service.close(user!, params.id);
        return summary(params.id);
      },
      { access: "agent" },
    );

  return (app: Elysia) => {
    app.config.websocket = {
      ...app.config.websocket,
      // Frames up to max_frame_bytes get an error frame; far bigger ones are refused unread.
      maxPayloadLength: config.max_frame_bytes * 4,
      idleTimeout: config.idle_timeout_s,
      sendPings: true,
    };
    return app.use(routes);
  };
}
