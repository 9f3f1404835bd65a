// order-status: answers "where is my order" from the shop's orders (docs/plugins.md).
//
// "我的订单 20240518123 到哪了" / "where is order 20240518123" → the order's status.
// "我的快递到哪了" / "where is my order" → asks for the order number, and takes the next message's number.
// An unknown number → says so. Replace `lookup` with a call to your own system, e.g.
//   const res = await ctx.fetch(`${ctx.config.api_url}/orders/${no}`, { timeout_ms: 2000 });
// Sample orders live in this plugin's key/value store (seeded on first load).
import { definePlugin, type BaseContext, type Lang } from "kefu/plugin";

interface Order {
  status: "paid" | "shipped" | "delivered" | "cancelled";
  carrier?: string;
  tracking?: string;
  eta?: string;
  updated: string;
}

const SAMPLE_ORDERS: Record<string, Order> = {
  "20240518123": { status: "shipped", carrier: "顺丰 SF Express", tracking: "SF1234567890", eta: "2024-05-21", updated: "2024-05-19 08:12" },
  "20240518456": { status: "paid", updated: "2024-05-18 21:40" },
  "20240517789": { status: "delivered", carrier: "中通 ZTO", tracking: "ZT9876543210", updated: "2024-05-19 15:03" },
  "20240516001": { status: "cancelled", updated: "2024-05-16 10:00" },
};

const ORDER_NO = /(?<![\d])(\d{8,20})(?![\d])/;
// A question about where an order is, not about ordering in general ("how do I return an order" passes).
const ASKS_ZH = /(订单|单号|快递|包裹|物流).{0,12}(到哪|在哪|哪里|状态|进度|怎么样|发货|查)|查.{0,4}(订单|快递|物流|单号)|(订单|单号)(号|编号)?\s*(是|为|:|：)?\s*\d{8,}/;
const ASKS_EN = /\b(where|status|track|tracking|when)\b.{0,30}\b(order|package|parcel|shipment)\b|\border\b\s*(no\.?|number|#)?\s*(is|:)?\s*\d{8,}|\b(order|package|parcel)\b.{0,20}\b(status|arrive|arriving)\b/i;
const AWAIT_S = 600;

const T = {
  zh: {
    ask: "请提供您的订单号（下单后短信或“我的订单”里的一串数字，例如 20240518123），我帮您查询。",
    missing: (no: string) => `没有找到订单 ${no}。请核对订单号是否完整（通常为 11 位数字）；如仍有疑问，可以回复“转人工”。`,
    status: (no: string, o: Order) =>
      ({
        paid: `订单 ${no} 已付款，正在备货，通常 48 小时内发货。`,
        shipped: `订单 ${no} 已发货：${o.carrier}，运单号 ${o.tracking}，预计 ${o.eta} 送达。`,
        delivered: `订单 ${no} 已签收（${o.carrier}，运单号 ${o.tracking}，${o.updated}）。如未收到，请回复“转人工”。`,
        cancelled: `订单 ${no} 已取消，款项会原路退回（1–7 个工作日）。`,
      })[o.status],
  },
  en: {
    ask: "Please tell me your order number (the digits in your confirmation message, e.g. 20240518123) and I will look it up.",
    missing: (no: string) => `I could not find order ${no}. Please check the number (usually 11 digits); reply "human" if you need an agent.`,
    status: (no: string, o: Order) =>
      ({
        paid: `Order ${no} is paid and being prepared; it usually ships within 48 hours.`,
        shipped: `Order ${no} has shipped with ${o.carrier}, tracking number ${o.tracking}, expected on ${o.eta}.`,
        delivered: `Order ${no} was delivered (${o.carrier}, tracking ${o.tracking}, ${o.updated}). Reply "human" if you did not get it.`,
        cancelled: `Order ${no} was cancelled; the payment is refunded to where it came from within 1–7 business days.`,
      })[o.status],
  },
} satisfies Record<Lang, unknown>;

async function lookup(ctx: BaseContext, no: string): Promise<Order | null> {
  return ctx.kv.get<Order>(`order:${no}`);
}

export default definePlugin({
  name: "order-status",
  version: "1.0.0",
  config: { properties: { seed_samples: { type: "boolean", default: true, description: "Load the sample orders into the store." } } },

  async setup(ctx) {
    if (ctx.config.seed_samples === false) return;
    for (const [no, order] of Object.entries(SAMPLE_ORDERS)) if (!(await ctx.kv.get(`order:${no}`))) await ctx.kv.set(`order:${no}`, order);
  },

  async onMessage(ctx) {
    const { text, lang } = ctx.message;
    const t = T[lang];
    const awaitKey = ctx.conversation ? `await:${ctx.conversation.id}` : null;
    const no = ORDER_NO.exec(text)?.[1];
    const asks = ASKS_ZH.test(text) || ASKS_EN.test(text);
    const awaiting = awaitKey ? (await ctx.kv.get<boolean>(awaitKey)) === true : false;
    if (no && (asks || awaiting)) {
      if (awaitKey && awaiting) await ctx.kv.delete(awaitKey);
      const order = await lookup(ctx, no);
      return { text: order ? t.status(no, order) : t.missing(no) };
    }
    if (asks) {
      if (awaitKey) await ctx.kv.set(awaitKey, true, { ttl_s: AWAIT_S });
      return { text: t.ask };
    }
    // Anything else: the knowledge base answers as usual (and a pending question is dropped).
    if (awaiting && awaitKey) await ctx.kv.delete(awaitKey);
  },
});
