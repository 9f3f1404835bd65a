import { timingSafeEqual } from "node:crypto";
import { Elysia, t } from "elysia";
import type { accessPlugin } from "../auth/access";
import { pickLang } from "../i18n/texts";
import { conflict } from "../errors/kefu-error";
import type { AnswerConfig } from "./config";
import type { PendingQuestion, PendingStatus } from "./pending-store";
import type { AnswerRecorder } from "../chat/bot";
import { type AnswerEvent, type AnswerResult, answerKind } from "./pipeline";
import type { AnswerService } from "./service";

/**
 * POST /api/ask for integrations and load tests (JSON, or SSE with `?stream=1`; needs an ask token), and
 * the admin views of the answer feature (admins only).
 */

export const AskBody = t.Object({
  text: t.String({ minLength: 1, maxLength: 4000 }),
  /** BCP 47 tag; zh* → Chinese, en* → English; default: guessed from the text. */
  lang: t.Optional(t.String({ maxLength: 35 })),
  visitor_id: t.Optional(t.String({ minLength: 1, maxLength: 64 })),
});

const PendingQuery = t.Object({
  status: t.Optional(t.Union([t.Literal("pending"), t.Literal("answered"), t.Literal("handed_off"), t.Literal("failed")])),
  after_id: t.Optional(t.Integer({ minimum: 0 })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500 })),
});

/** Handoff counters by reason, from the chat (absent when the answer feature runs without it). */
export type HandoffStats = () => Record<string, number>;

/** `record`: the answer log (src/insights), one row per answered /api/ask question (source `api`). */
export function answerRoutes(service: AnswerService, access: ReturnType<typeof accessPlugin>, handoffs?: HandoffStats, record?: AnswerRecorder) {
  const { pipeline, registry, store } = service;
  const logged = (question: string, started: number) => (r: AnswerResult) =>
    record?.({
      source: "api",
      conversationId: null,
      visitorSeq: null,
      replySeq: null,
      question,
      path: answerKind(r),
      step: r.step,
      entryId: r.entryId,
      confidence: r.confidence,
      latencyMs: performance.now() - started,
    });

  return (
    new Elysia({ name: "answer" })
      .use(access)
      .post(
        "/api/ask",
        async ({ body, query, request, server }) => {
          const lang = pickLang(body.lang, /\p{Script=Han}/u.test(body.text) ? "zh" : "en");
          const input = { text: body.text, lang, visitorId: body.visitor_id };
          const log = logged(body.text, performance.now());
          if (query.stream !== "1" && query.stream !== "true") {
            const result = await pipeline.ask({ ...input, signal: request.signal });
            log(result);
            return publicResult(result);
          }
          // The default idle timeout (10 s) would cut a long answer whose tokens pause.
          server?.timeout(request, 0);
          return sseResponse((signal) => onFinal(pipeline.stream({ ...input, signal }), log), request.signal);
        },
        { access: "ask", body: AskBody, query: t.Object({ stream: t.Optional(t.String()) }) },
      )
      .get("/api/admin/llm/providers", () => ({ providers: registry.status() }), { access: "admin" })
      .get(
        "/api/admin/answer/stats",
        async () => ({
          ...pipeline.stats(),
          handoffs: handoffs?.() ?? null,
          pending: await store.countPending(),
          off_hours: (await service.offHours?.status()) ?? null,
        }),
        { access: "admin" },
      )
      .get(
        "/api/admin/pending",
        async ({ query }) => {
          const questions = await store.list({ status: query.status as PendingStatus | undefined, afterId: query.after_id, limit: query.limit ?? 100 });
          return { questions: questions.map(publicPending), pending: await store.countPending() };
        },
        { access: "admin", query: PendingQuery },
      )
      .post(
        "/api/admin/pending/run",
        async () => {
          if (!service.offHours) throw conflict("off-hours handling is off: set [hours] enabled = true (and run with the chat)");
          return await service.offHours.run();
        },
        // No fields: a body sent anyway is `{}` or a 400 naming what it holds (bodies are strict).
        { access: "admin", body: t.Optional(t.Object({}, { additionalProperties: false })) },
      )
  );
}

/**
 * Who may call POST /api/ask: anyone with `ask_open`, else a token whose sha256 is in `ask_tokens` (compared
 * in constant time with every allowed hash, so timing says nothing about which one nearly matched), or an API
 * token made from the admin API (`stored`: looked up by its SHA-256, as session tokens are).
 */
export function askTokenCheck(
  config: AnswerConfig,
  stored?: (token: string) => Promise<boolean> | boolean,
): (token: string | null) => Promise<boolean> | boolean {
  const allowed = config.ask_tokens.map((h) => Buffer.from(h, "hex"));
  // The stored tokens (a database read) only when the configured ones did not match.
  return (token) => config.ask_open || askTokenOk(token, allowed) || (!!token && !!stored && Promise.resolve(stored(token)).then((ok) => ok === true));
}

function askTokenOk(token: string | null, allowed: Buffer[]): boolean {
  if (!token || allowed.length === 0) return false;
  const digest = new Bun.CryptoHasher("sha256").update(token).digest();
  let ok = false;
  for (const h of allowed) ok = timingSafeEqual(digest, h) || ok;
  return ok;
}

async function* onFinal(events: AsyncGenerator<AnswerEvent, void, undefined>, fn: (r: AnswerResult) => void): AsyncGenerator<AnswerEvent, void, undefined> {
  for await (const ev of events) {
    if (ev.type === "final") fn(ev.result);
    yield ev;
  }
}

function publicResult(r: AnswerResult) {
  return {
    answer: r.answer,
    path: r.path,
    confidence: Math.round(r.confidence * 1000) / 1000,
    sources: r.sources,
    ...(r.choices?.length ? { choices: r.choices } : {}),
    ...(r.handoff ? { handoff: true } : {}),
  };
}

function publicPending(q: PendingQuestion) {
  return {
    id: q.id,
    conversation_id: q.conversationId,
    question: q.question,
    lang: q.lang,
    status: q.status,
    created_at: new Date(q.createdAt).toISOString(),
    resolved_at: q.resolvedAt === null ? null : new Date(q.resolvedAt).toISOString(),
    answer: q.answer,
    error: q.error,
  };
}

/**
 * `event: delta` ({text}), `event: reset` ({reason}), then `event: final` (the JSON body of the
 * non-streaming call). A client that disconnects aborts the answer, and with it the upstream request.
 */
function sseResponse(start: (signal: AbortSignal) => AsyncGenerator<AnswerEvent, void, undefined>, clientSignal: AbortSignal): Response {
  const ctrl = new AbortController();
  const onClientAbort = () => ctrl.abort();
  clientSignal.addEventListener("abort", onClientAbort, { once: true });
  const events = start(ctrl.signal);
  const encoder = new TextEncoder();
  const frame = (ev: AnswerEvent) => {
    const data = ev.type === "final" ? publicResult(ev.result) : ev.type === "delta" ? { text: ev.text } : { reason: ev.reason };
    return encoder.encode(`event: ${ev.type}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const finish = () => clientSignal.removeEventListener("abort", onClientAbort);
  const body = new ReadableStream<Uint8Array>({
    // Pull-based: a slow client slows the upstream read instead of buffering the answer.
    async pull(controller) {
      try {
        const next = await events.next();
        if (next.done) {
          finish();
          controller.close();
        } else controller.enqueue(frame(next.value));
      } catch (err) {
        finish();
        controller.error(err);
      }
    },
    async cancel() {
      finish();
      ctrl.abort();
      await events.return(undefined);
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" },
  });
}
