// invoice (开发票): a multi-turn flow in the chat (docs/plugins.md).
//
// "我要开发票" / "I need an invoice" → invoice title → tax id (18-character unified social credit code,
// check digit verified) → e-mail → confirm → the request is stored. "取消" / "cancel" leaves the flow.
// Admins list the requests: GET /api/plugins/invoice/requests (admin token).
import { definePlugin, respond, type BaseContext, type Lang } from "kefu/plugin";

interface Flow {
  step: "title" | "tax_id" | "email" | "confirm";
  title?: string;
  tax_id?: string;
  email?: string;
}
interface InvoiceRequest {
  id: string;
  title: string;
  tax_id: string;
  email: string;
  conversation_id: string;
  visitor_id: string | null;
  /** The shop's user id when the widget verified it. */
  external_id: string | null;
  created_at: string;
}

const START_ZH = /(我要|我想|想要|帮我|给我|麻烦|申请|需要|要)(开|开具|开一张|开个)?(发票|票)|^开(发)?票[!！。.]?$/;
const START_EN = /\b(i (need|want|would like)( to (get|request))?|please (issue|send)|request|issue|get)\b.{0,20}\binvoice\b|^invoice[!.]?$/i;
// "我不需要发票" / "不要发票了": a "no", not a request.
const NEGATED_ZH = /(不|没|无|别)(需要|要|想要|想|用|必|需)?(开|开具)?(发票|票)/;
/**
 * A question to the shop in the middle of the flow ("我的订单 20240518123 到哪了？", "how much is shipping?")
 * rather than what the step waits for: passed on, so the order plugin or the knowledge base answers it,
 * and the flow waits for its answer.
 */
// (Not a bare 什么 or 哪: "什么值得买科技有限公司", "哪吒文化传媒有限公司" are invoice titles.)
const ASIDE = /[?？]\s*$|[吗呢][?？!！。.]?\s*$|怎么|为什么|什么时候|多少|到哪|在哪|哪里|哪儿|^(where|what|how|when|why|which|who|can|could|do|does|is|are)\b/i;
const CANCEL = /^(取消|算了|不要了|不用了|退出|cancel|stop|quit|never ?mind)[!！。.]?$/i;
const YES = /^(确认|确定|是|是的|对|好|好的|提交|没问题|yes|y|ok|okay|confirm|correct|submit)[!！。.]?$/i;
const NO = /^(不|不对|否|错了|修改|no|n|wrong|change)[!！。.]?$/i;
const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[\p{L}\p{N}-]{2,}$/u;
/** "91350100M000100Y43。", "finance@example.cn.": a sentence's full stop is not part of a code or an address. */
const TRAILING_STOP = /[。．.，,！!；;]+$/u;
const FLOW_TTL_S = 1800;

/** GB 32100-2015: 18 characters of 0-9 and A-Z without I, O, S, V, Z; the last is a check character. */
const USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
export function validCreditCode(code: string): boolean {
  if (!/^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/.test(code)) return false;
  const sum = USCC_WEIGHTS.reduce((n, w, i) => n + USCC_CHARS.indexOf(code[i]!) * w, 0);
  const check = (31 - (sum % 31)) % 31;
  return USCC_CHARS[check] === code[17];
}

const T = {
  zh: {
    start: "好的，我来帮您申请发票。请告诉我发票抬头（公司全称）。随时回复“取消”可退出。",
    title_bad: "发票抬头需要 2 到 100 个字，请重新输入公司全称。",
    tax_id: "请提供纳税人识别号（18 位统一社会信用代码，可在营业执照上找到）。",
    tax_bad: "这个税号不正确：统一社会信用代码是 18 位数字和大写字母（不含 I、O、S、V、Z），最后一位是校验码。请核对后重新输入。",
    email: "请提供接收电子发票的邮箱地址。",
    email_bad: "邮箱格式不正确，请重新输入，例如 finance@example.com。",
    confirm: (f: Flow) => `请确认开票信息：\n抬头：${f.title}\n税号：${f.tax_id}\n邮箱：${f.email}\n回复“确认”提交，回复“修改”重新填写，回复“取消”退出。`,
    confirm_again: "请回复“确认”提交，“修改”重新填写，或“取消”退出。",
    done: (r: InvoiceRequest) => `已提交开票申请（编号 ${r.id}）。电子发票会在 1–3 个工作日内发送到 ${r.email}。`,
    cancelled: "已取消开票申请。还有其他可以帮您的吗？",
    choices: ["确认", "修改", "取消"],
  },
  en: {
    start: "Sure, I can request an invoice for you. What is the invoice title (the company's full name)? Reply \"cancel\" at any time to stop.",
    title_bad: "The invoice title needs 2 to 100 characters; please send the company's full name.",
    tax_id: "Please send the taxpayer id: the 18-character unified social credit code from the business licence.",
    tax_bad: "That tax id is not valid: a unified social credit code has 18 digits and capital letters (no I, O, S, V, Z), the last one a check character. Please check it and send it again.",
    email: "Which e-mail address should the electronic invoice go to?",
    email_bad: "That e-mail address does not look right; please send it again, e.g. finance@example.com.",
    confirm: (f: Flow) => `Please confirm:\nTitle: ${f.title}\nTax id: ${f.tax_id}\nE-mail: ${f.email}\nReply "confirm" to submit, "change" to start over, or "cancel".`,
    confirm_again: 'Please reply "confirm" to submit, "change" to start over, or "cancel".',
    done: (r: InvoiceRequest) => `Your invoice request ${r.id} is submitted. The electronic invoice will be sent to ${r.email} within 1-3 business days.`,
    cancelled: "The invoice request is cancelled. Anything else I can help with?",
    choices: ["confirm", "change", "cancel"],
  },
} satisfies Record<Lang, unknown>;

/**
 * Hook calls run concurrently in the plugin's worker (every await lets another visitor's call in), so
 * request numbers are handed out one at a time: two visitors confirming at once must not get one number
 * (the second request would overwrite the first).
 */
let numbering: Promise<unknown> = Promise.resolve();
function nextRequestId(ctx: BaseContext): Promise<string> {
  const next = numbering.then(async () => {
    let seq = ((await ctx.kv.get<number>("seq")) ?? 0) + 1;
    // A number some other version of the plugin took meanwhile (a reload) is skipped.
    while (await ctx.kv.get(`request:${idOf(seq)}`)) seq++;
    await ctx.kv.set("seq", seq);
    return idOf(seq);
  });
  numbering = next.catch(() => undefined);
  return next;
}
const idOf = (seq: number) => `INV-${String(seq).padStart(5, "0")}`;

export default definePlugin({
  name: "invoice",
  version: "1.0.0",

  async onMessage(ctx) {
    const conv = ctx.conversation;
    if (!conv) return; // POST /api/ask: no conversation to hold the flow
    const t = T[ctx.message.lang];
    const key = `flow:${conv.id}`;
    let flow = await ctx.kv.get<Flow>(key);
    if (!flow) {
      const text = ctx.message.text.trim();
      if (!(START_ZH.test(text) && !NEGATED_ZH.test(text)) && !START_EN.test(text)) return;
      await ctx.kv.set(key, { step: "title" }, { ttl_s: FLOW_TTL_S });
      return { text: t.start };
    }
    // Messages sent quickly one after another are answered together: each is one step, the reply the last one's.
    // null: every message was an aside (a question for someone else), passed on while the flow waits.
    let reply: { text: string; choices?: string[] } | null = null;
    for (const part of ctx.message.parts.map((p) => p.trim()).filter(Boolean)) {
      const [next, said] = await step(flow, part);
      flow = next;
      reply = said ?? reply;
      if (!flow) break;
    }
    if (flow) await ctx.kv.set(key, flow, { ttl_s: FLOW_TTL_S });
    else await ctx.kv.delete(key);
    return reply ?? undefined;

    /** One message in the flow: the next state (null: the flow ended) and what to say (null: an aside, not answered here). */
    async function step(flow: Flow, text: string): Promise<[Flow | null, { text: string; choices?: string[] } | null]> {
      if (CANCEL.test(text)) return [null, { text: t.cancelled }];
      const aside = ASIDE.test(text);
      switch (flow.step) {
        case "title":
          // A bare number is no company name (an order number the order plugin asked for): passed on too.
          if (aside || !/\p{L}/u.test(text)) return [flow, null];
          if (text.length < 2 || text.length > 100) return [flow, { text: t.title_bad }];
          return [{ step: "tax_id", title: text }, { text: t.tax_id }];
        case "tax_id": {
          const code = text.replace(TRAILING_STOP, "").replace(/[\s-]/g, "").toUpperCase();
          if (!validCreditCode(code)) return [flow, aside ? null : { text: t.tax_bad }];
          return [{ ...flow, step: "email", tax_id: code }, { text: t.email }];
        }
        case "email": {
          const email = text.replace(TRAILING_STOP, "");
          if (email.length > 254 || !EMAIL.test(email)) return [flow, aside ? null : { text: t.email_bad }];
          const next: Flow = { ...flow, step: "confirm", email };
          return [next, { text: t.confirm(next), choices: t.choices }];
        }
        case "confirm": {
          if (NO.test(text)) return [{ step: "title" }, { text: t.start }];
          if (!YES.test(text)) return [flow, aside ? null : { text: t.confirm_again, choices: t.choices }];
          const request: InvoiceRequest = {
            id: await nextRequestId(ctx),
            title: flow.title!,
            tax_id: flow.tax_id!,
            email: flow.email!,
            conversation_id: conv!.id,
            visitor_id: ctx.visitor?.id ?? null,
            external_id: ctx.visitor?.verified ? ctx.visitor.external_id : null,
            created_at: new Date().toISOString(),
          };
          await ctx.kv.set(`request:${request.id}`, request);
          ctx.log.info("invoice requested", { id: request.id, conversation_id: conv!.id });
          return [null, { text: t.done(request) }];
        }
      }
    }
  },

  routes: [
    {
      method: "GET",
      path: "/requests",
      // Newest first, a page at a time (?limit=, at most 200; ?before=<number> for the next page): read by
      // number, since the store lists keys from the start and at most 1,000 of them.
      async handler(ctx, req) {
        const limit = Math.min(200, Math.max(1, Math.trunc(Number(req.query.limit)) || 100));
        const before = Math.trunc(Number(req.query.before)) || Infinity;
        let seq = Math.min((await ctx.kv.get<number>("seq")) ?? 0, before - 1);
        const requests: InvoiceRequest[] = [];
        for (; seq > 0 && requests.length < limit; seq--) {
          const r = await ctx.kv.get<InvoiceRequest>(`request:${idOf(seq)}`);
          if (r) requests.push(r);
        }
        return { requests, next_before: seq > 0 ? seq + 1 : null };
      },
    },
    {
      method: "GET",
      path: "/requests/:id",
      async handler(ctx, req) {
        const r = await ctx.kv.get<InvoiceRequest>(`request:${req.params.id}`);
        return r ? { request: r } : respond(404, { error: { code: "not_found", message: `invoice request ${req.params.id} not found` } });
      },
    },
  ],
});
