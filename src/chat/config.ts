import { Type as t } from "@sinclair/typebox";

/**
 * [chat] section: live chat over WebSocket. Limits have safe defaults so a public
 * widget endpoint cannot be used to exhaust memory, disk or the bot.
 */
export const chatSection = t.Object(
  {
    default_lang: t.Union([t.Literal("zh"), t.Literal("en")], {
      default: "zh",
      description: "Language of visitor-facing texts when the widget's hello does not say (zh = Simplified Chinese, en = English).",
    }),
    handoff_keywords: t.Array(t.String({ minLength: 1 }), {
      default: ["人工", "转人工", "人工客服", "human", "agent"],
      description:
        "A visitor message containing one of these asks for a human. Latin keywords match whole words, case-insensitively; Chinese keywords match inside the text (\"我要人工\", \"找人工客服\") but not as part of a longer word with another meaning (人工 does not fire in 人工智能, 人工费 or 人工成本).",
    }),
    bot_misses_before_handoff: t.Integer({
      default: 2,
      minimum: 0,
      maximum: 100,
      description:
        "Hand over to a human after this many bot replies in a row without a confident answer (0 = never). With no agent online the conversation waits as a ticket and the bot keeps answering what it knows.",
    }),
    bot_timeout_ms: t.Integer({
      default: 30000,
      minimum: 100,
      maximum: 600000,
      description: "A bot reply that takes longer is aborted and counts as a miss.",
    }),
    answers_in_flight: t.Integer({
      default: 16,
      minimum: 1,
      maximum: 10000,
      description:
        "Bot answers worked on at once (retrieval, scoring, up to the first streamed piece). Conversations beyond it wait their turn; messages are stored and acknowledged at once whatever this is, and acks never wait behind answers. Twice a search worker's queue (8): the answers beyond it are searched on the main thread, so both cores work (8: one worker's rate, 1,130 distinct msg/s on 2 cores; 16: 1,340; 32: the main thread starves the worker, 1,130).",
    }),
    answer_wait_ms: t.Integer({
      default: 3000,
      minimum: 100,
      maximum: 600000,
      description:
        "Longest wait for an answer slot. A conversation still waiting after this long gets a short \"many people are asking, please ask again\" reply instead of an answer (overload is shed, never queued without bound). Counts toward [llm] answer_deadline_ms.",
    }),
    max_frame_bytes: t.Integer({
      default: 32 * 1024,
      minimum: 1024,
      maximum: 1024 * 1024,
      description:
        "Largest WebSocket frame accepted; bigger ones get an error frame. Frames over four times this size are refused by the server without being read (close code 1009).",
    }),
    max_text_chars: t.Integer({ default: 4000, minimum: 1, maximum: 100000, description: "Longest message text, in characters." }),
    rate_burst: t.Integer({
      default: 10,
      minimum: 1,
      maximum: 10000,
      description: "Messages a visitor may send in a burst (token bucket size, shared by all of the visitor's tabs).",
    }),
    rate_per_second: t.Number({
      default: 1,
      minimum: 0.01,
      maximum: 1000,
      description: "Sustained messages per second a visitor may send (token bucket refill rate).",
    }),
    frame_burst: t.Integer({
      default: 40,
      minimum: 1,
      maximum: 100000,
      description: "Frames of any kind one visitor connection may send in a burst, counted before a frame is parsed.",
    }),
    frames_per_second: t.Number({
      default: 10,
      minimum: 0.1,
      maximum: 100000,
      description: "Sustained frames per second one visitor connection may send. Over it, frames are refused with rate_limited.",
    }),
    flood_strikes: t.Integer({
      default: 20,
      minimum: 1,
      maximum: 100000,
      description: "A visitor connection that sends this many more frames after being refused is closed (1008) and its IP cooled down.",
    }),
    flood_cooldown_s: t.Integer({
      default: 60,
      minimum: 1,
      maximum: 86400,
      description: "Seconds during which an IP whose connection was closed for flooding cannot open visitor sockets (429).",
    }),
    max_sockets_per_ip: t.Integer({
      default: 100,
      minimum: 1,
      maximum: 1000000,
      description: "Open visitor sockets per client IP (offices and mobile carriers put many visitors behind one address).",
    }),
    new_visitors_per_ip_per_minute: t.Integer({
      default: 30,
      minimum: 1,
      maximum: 1000000,
      description: "New visitors (hello without a token) one client IP may create per minute (burst of the same size). Over it: error new_visitors_limited.",
    }),
    hello_timeout_s: t.Integer({
      default: 10,
      minimum: 1,
      maximum: 600,
      description: "A visitor socket that has not sent hello after this many seconds is closed (1008).",
    }),
    heartbeat_s: t.Integer({
      default: 25,
      minimum: 1,
      maximum: 600,
      description: "Interval, in seconds, at which clients are told (in welcome) to send ping frames.",
    }),
    idle_timeout_s: t.Integer({
      default: 120,
      minimum: 10,
      maximum: 960,
      description:
        "A WebSocket on which nothing arrives for this long is closed. The server sends protocol pings on quiet connections, so live browsers are never cut.",
    }),
    identity_secret: t.String({
      default: "",
      description:
        "Secret for identity verification: the shop's backend signs its user id as hex HMAC-SHA256(identity_secret, user.id) and the widget passes it as user.hash; a signed user is linked to one visitor across devices. Empty: every user the widget names is shown as unverified. Prefer the KEFU_CHAT_IDENTITY_SECRET environment variable.",
    }),
    agent_grace_s: t.Integer({
      default: 120,
      minimum: 0,
      maximum: 86400,
      description:
        "Conversations owned by an agent whose sockets have all been closed this long (seconds) go back to the queue and are reassigned. After a restart every owner gets this long to reconnect.",
    }),
  },
  { additionalProperties: false, description: "Live chat: visitor and agent WebSockets, handoff to humans, limits." },
);
