import { type Static, type TSchema, Type as t } from "@sinclair/typebox";

/**
 * Every frame of the chat protocol, defined once: incoming frames are validated
 * against these schemas and outgoing frames are typed by them. docs/protocol.md
 * documents the same shapes. Unknown extra fields are allowed so that newer
 * clients can talk to older servers (additive changes keep the protocol version).
 */
export const PROTOCOL_VERSION = 1;

export const ConversationState = t.Union([t.Literal("bot"), t.Literal("queued"), t.Literal("agent"), t.Literal("closed")]);
export type ConversationState = Static<typeof ConversationState>;

export const Sender = t.Union([t.Literal("visitor"), t.Literal("bot"), t.Literal("agent"), t.Literal("system")]);
export type Sender = Static<typeof Sender>;

const ClientId = t.String({ minLength: 1, maxLength: 64 });
const ConversationId = t.String({ minLength: 1, maxLength: 64 });
// Text length is checked by the handler, not the schema, so that an over-long
// text gets its own error code and the client_id echoed back.
const Text = t.String();

// ---- visitor → server (/ws) ----
const ContextField = t.String({ maxLength: 2000 });
export const VisitorContext = t.Object({
  url: t.Optional(ContextField),
  title: t.Optional(ContextField),
  referrer: t.Optional(ContextField),
  user_agent: t.Optional(ContextField),
  screen: t.Optional(ContextField),
});
export type VisitorContext = Static<typeof VisitorContext>;
const PersonName = t.String({ maxLength: 200 });
const Email = t.String({ maxLength: 320 });
export const VisitorUser = t.Object({
  id: t.String({ minLength: 1, maxLength: 200 }),
  name: t.Optional(PersonName),
  email: t.Optional(Email),
  hash: t.Optional(t.String({ maxLength: 128 })),
});
export type VisitorUser = Static<typeof VisitorUser>;
export const VisitorHello = t.Object({
  type: t.Literal("hello"),
  v: t.Optional(t.Integer({ minimum: 1 })),
  visitor_id: t.Optional(t.String({ minLength: 1, maxLength: 64 })),
  token: t.Optional(t.String({ minLength: 1, maxLength: 256 })),
  /** The conversation `last_seq` counts in; when the server's current one differs, it replays from the start. */
  conversation_id: t.Optional(ConversationId),
  last_seq: t.Optional(t.Integer({ minimum: 0 })),
  lang: t.Optional(t.String({ maxLength: 35 })),
  /** Where the visitor is (page, referrer, device), shown to agents; stored on the conversation when it is first written. */
  context: t.Optional(VisitorContext),
  /** The shop's signed-in user; `hash` = hex HMAC-SHA256([chat] identity_secret, id) makes it verified. */
  user: t.Optional(VisitorUser),
});
export const VisitorSend = t.Object({ type: t.Literal("send"), client_id: ClientId, text: Text });
/** `text`: a live preview of what the visitor is writing, for agents only. */
export const VisitorTyping = t.Object({ type: t.Literal("typing"), on: t.Boolean(), text: t.Optional(t.String({ maxLength: 500 })) });
/** Are agents online right now? Answered with `availability`. */
export const VisitorAvailability = t.Object({ type: t.Literal("availability") });
/** A question left while nobody is online: stored as a visitor message (acked like send), the conversation becomes a ticket. */
export const VisitorOfflineMessage = t.Object({
  type: t.Literal("offline_message"),
  client_id: ClientId,
  name: t.Optional(PersonName),
  email: t.Optional(Email),
  text: Text,
});
/** CSAT for one of the visitor's conversations; a later rating replaces the earlier one. */
export const VisitorRate = t.Object({
  type: t.Literal("rate"),
  conversation_id: ConversationId,
  score: t.Integer({ minimum: 1, maximum: 5 }),
  comment: t.Optional(t.String({ maxLength: 1000 })),
});
export const VisitorRead = t.Object({ type: t.Literal("read"), seq: t.Integer({ minimum: 0 }) });
export const VisitorHandoff = t.Object({ type: t.Literal("handoff") });
/** Picks one of the "did you mean" choices a bot message offered; `client_id` (optional) gets an ack like `send`. */
export const VisitorChoose = t.Object({ type: t.Literal("choose"), entry_id: t.String({ minLength: 1, maxLength: 200 }), client_id: t.Optional(ClientId) });
export const Ping = t.Object({ type: t.Literal("ping") });

export const visitorFrames = {
  hello: VisitorHello,
  send: VisitorSend,
  typing: VisitorTyping,
  read: VisitorRead,
  handoff: VisitorHandoff,
  choose: VisitorChoose,
  availability: VisitorAvailability,
  offline_message: VisitorOfflineMessage,
  rate: VisitorRate,
  ping: Ping,
} satisfies Record<string, TSchema>;
export type VisitorFrame = { [K in keyof typeof visitorFrames]: Static<(typeof visitorFrames)[K]> }[keyof typeof visitorFrames];

// ---- agent → server (/ws/agent) ----
export const AgentPresence = t.Object({ type: t.Literal("presence"), status: t.Union([t.Literal("online"), t.Literal("away")]) });
export const AgentQueue = t.Object({ type: t.Literal("queue") });
export const AgentWatch = t.Object({ type: t.Literal("watch"), conversation_id: ConversationId, last_seq: t.Optional(t.Integer({ minimum: 0 })) });
export const AgentUnwatch = t.Object({ type: t.Literal("unwatch"), conversation_id: ConversationId });
export const AgentClaim = t.Object({ type: t.Literal("claim"), conversation_id: ConversationId });
export const AgentSend = t.Object({ type: t.Literal("send"), conversation_id: ConversationId, client_id: ClientId, text: Text });
export const AgentTyping = t.Object({ type: t.Literal("typing"), conversation_id: ConversationId, on: t.Boolean() });
export const AgentTransfer = t.Object({ type: t.Literal("transfer"), conversation_id: ConversationId, agent_id: t.Integer({ minimum: 1 }) });
export const AgentReturn = t.Object({ type: t.Literal("return_to_bot"), conversation_id: ConversationId });
export const AgentClose = t.Object({ type: t.Literal("close"), conversation_id: ConversationId });
/** A private note: stored beside the conversation, never in its stream, never sent to a visitor. */
export const AgentNote = t.Object({ type: t.Literal("note"), conversation_id: ConversationId, client_id: ClientId, text: Text });

export const agentFrames = {
  presence: AgentPresence,
  queue: AgentQueue,
  watch: AgentWatch,
  unwatch: AgentUnwatch,
  claim: AgentClaim,
  send: AgentSend,
  typing: AgentTyping,
  transfer: AgentTransfer,
  return_to_bot: AgentReturn,
  close: AgentClose,
  note: AgentNote,
  ping: Ping,
} satisfies Record<string, TSchema>;
export type AgentFrame = { [K in keyof typeof agentFrames]: Static<(typeof agentFrames)[K]> }[keyof typeof agentFrames];

// ---- server → client ----
export const AgentRef = t.Object({ id: t.Integer(), name: t.String() });
export type AgentRef = Static<typeof AgentRef>;

export const Source = t.Object({ id: t.String(), title: t.Optional(t.String()), url: t.Optional(t.String()) });
export type Source = Static<typeof Source>;

/** A knowledge-base entry offered as "did you mean …": `choose {entry_id}` (or sending `question`) returns its answer. */
export const Choice = t.Object({ entry_id: t.String(), question: t.String() });
export type Choice = Static<typeof Choice>;

/**
 * Why a streamed draft was dropped: the visitor wrote again (the next reply answers all their new
 * messages), another row took the conversation (an agent, a state change), the model failed midway
 * (another step answers under the same seq), the reply was stopped (visitor left, shutdown) or timed out.
 */
export const ResetReason = t.Union([t.Literal("newer_message"), t.Literal("superseded"), t.Literal("provider_failed"), t.Literal("stopped"), t.Literal("timeout")]);
export type ResetReason = Static<typeof ResetReason>;

export const Limits = t.Object({ max_text_chars: t.Integer(), max_frame_bytes: t.Integer(), heartbeat_s: t.Integer() });

export const WelcomeFrame = t.Object({
  type: t.Literal("welcome"),
  v: t.Integer(),
  visitor_id: t.String(),
  token: t.String(),
  conversation_id: t.String(),
  state: ConversationState,
  agent: t.Optional(AgentRef),
  last_seq: t.Integer(),
  /** Someone can answer now: an agent is connected and not away. */
  agents_online: t.Boolean(),
  limits: Limits,
});
export const AvailabilityFrame = t.Object({ type: t.Literal("availability"), agents_online: t.Boolean() });
export const RatedFrame = t.Object({ type: t.Literal("rated"), conversation_id: t.String(), score: t.Integer() });
export const AckFrame = t.Object({ type: t.Literal("ack"), client_id: t.String(), seq: t.Integer(), conversation_id: t.Optional(t.String()) });
export const MessageFrame = t.Object({
  type: t.Literal("message"),
  conversation_id: t.Optional(t.String()),
  seq: t.Integer(),
  from: Sender,
  text: t.String(),
  client_id: t.Optional(t.String()),
  sources: t.Optional(t.Array(Source)),
  choices: t.Optional(t.Array(Choice)),
  agent: t.Optional(AgentRef),
  at: t.Integer({ description: "Unix time in milliseconds when the message was stored." }),
});
export const DeltaFrame = t.Object({ type: t.Literal("delta"), conversation_id: t.Optional(t.String()), seq: t.Integer(), text: t.String() });
export const ResetFrame = t.Object({ type: t.Literal("reset"), conversation_id: t.Optional(t.String()), seq: t.Integer(), reason: t.Optional(ResetReason) });
export const StateFrame = t.Object({
  type: t.Literal("state"),
  conversation_id: t.Optional(t.String()),
  seq: t.Integer(),
  state: ConversationState,
  agent: t.Optional(AgentRef),
  text: t.String(),
  at: t.Integer(),
});
/** `text` (the visitor's preview of what they are writing) reaches agent sockets only. */
export const TypingFrame = t.Object({ type: t.Literal("typing"), conversation_id: t.Optional(t.String()), from: Sender, on: t.Boolean(), text: t.Optional(t.String()) });
export const ReadFrame = t.Object({ type: t.Literal("read"), conversation_id: t.String(), seq: t.Integer() });
export const ErrorFrame = t.Object({ type: t.Literal("error"), code: t.String(), message: t.String(), client_id: t.Optional(t.String()) });
export const PongFrame = t.Object({ type: t.Literal("pong") });

export type WelcomeFrame = Static<typeof WelcomeFrame>;
export type AckFrame = Static<typeof AckFrame>;
export type MessageFrame = Static<typeof MessageFrame>;
export type DeltaFrame = Static<typeof DeltaFrame>;
export type ResetFrame = Static<typeof ResetFrame>;
export type StateFrame = Static<typeof StateFrame>;
export type TypingFrame = Static<typeof TypingFrame>;
export type ReadFrame = Static<typeof ReadFrame>;
export type ErrorFrame = Static<typeof ErrorFrame>;

/** Who the visitor is, as far as the shop told: `verified` when the shop signed the user id (identity verification). */
export const VisitorRef = t.Object({
  id: t.String(),
  name: t.Optional(t.String()),
  email: t.Optional(t.String()),
  verified: t.Boolean(),
  /** The shop's user id (signed when verified). */
  external_id: t.Optional(t.String()),
});
export type VisitorRef = Static<typeof VisitorRef>;

export const Rating = t.Object({ score: t.Integer({ minimum: 1, maximum: 5 }), comment: t.Optional(t.String()) });
export type Rating = Static<typeof Rating>;

const summaryFields = {
  conversation_id: t.String(),
  visitor_id: t.String(),
  state: ConversationState,
  agent: t.Optional(AgentRef),
  lang: t.String(),
  last_seq: t.Integer(),
  /** The visitor's last message (not a notice or reply), at most 200 characters. */
  last_text: t.Optional(t.String()),
  /** Seq of the visitor's last message (0: none): what an agent compares with what they have read. */
  last_visitor_seq: t.Integer(),
  visitor: VisitorRef,
  tags: t.Array(t.String()),
  rating: t.Optional(Rating),
  created_at: t.Integer(),
  updated_at: t.Integer(),
  queued_at: t.Optional(t.Integer()),
  /** Why it waits for a human (keyword, visitor, bot_misses, plugin, bot, off_hours, offline_message, agent_offline): the ticket's reason. */
  queued_reason: t.Optional(t.String()),
};
export const ConversationSummary = t.Object(summaryFields);
export type ConversationSummary = Static<typeof ConversationSummary>;

/** The hello context of the conversation plus its language, for the agent's side panel. */
export const ConversationContext = t.Object({ ...VisitorContext.properties, lang: t.String() });
/** GET /api/agent/conversations/:id: the summary, where the visitor is, and their earlier conversations. */
export const ConversationDetail = t.Object({
  ...summaryFields,
  visitor: t.Object({ ...VisitorRef.properties, first_seen_at: t.Integer() }),
  context: ConversationContext,
  previous: t.Array(ConversationSummary),
});
export type ConversationDetail = Static<typeof ConversationDetail>;

/** A private note of agents about a conversation (agents only). */
export const NoteFrame = t.Object({
  type: t.Literal("note"),
  conversation_id: t.String(),
  id: t.Integer(),
  text: t.String(),
  agent: AgentRef,
  at: t.Integer(),
  client_id: t.Optional(t.String()),
});
export type NoteFrame = Static<typeof NoteFrame>;

/** A knowledge-base entry that may answer the visitor's current question (agent assist). */
export const Suggestion = t.Object({ entry_id: t.String(), question: t.String(), answer: t.String(), confidence: t.Number() });
export type Suggestion = Static<typeof Suggestion>;

export const PresenceStatus = t.Union([t.Literal("online"), t.Literal("away"), t.Literal("offline")]);
export type PresenceStatus = Static<typeof PresenceStatus>;

export const AgentSummary = t.Object({ id: t.Integer(), name: t.String(), status: PresenceStatus, load: t.Integer(), max_concurrent: t.Integer() });
export type AgentSummary = Static<typeof AgentSummary>;

export const AgentWelcomeFrame = t.Object({
  type: t.Literal("welcome"),
  v: t.Integer(),
  agent: AgentRef,
  status: PresenceStatus,
  limits: Limits,
});
export const QueueFrame = t.Object({
  type: t.Literal("queue"),
  queued: t.Array(ConversationSummary),
  mine: t.Array(ConversationSummary),
  /** Every conversation queued or owned by any agent, most recently active first (at most 200): "All open". */
  open: t.Array(ConversationSummary),
  agents: t.Array(AgentSummary),
});
export const AssignedFrame = t.Object({ type: t.Literal("assigned"), conversation: ConversationSummary });
export type QueueFrame = Static<typeof QueueFrame>;

/** A frame about one conversation, as published on the bus (`conversation_id` added per audience). */
export type ConversationFrame = MessageFrame | StateFrame | DeltaFrame | ResetFrame | TypingFrame | ReadFrame;

/** Every frame the server sends, on either socket (docs/protocol.md has an example of each). */
export const serverFrames = {
  welcome: WelcomeFrame,
  agent_welcome: AgentWelcomeFrame,
  ack: AckFrame,
  message: MessageFrame,
  delta: DeltaFrame,
  reset: ResetFrame,
  state: StateFrame,
  typing: TypingFrame,
  read: ReadFrame,
  error: ErrorFrame,
  pong: PongFrame,
  queue: QueueFrame,
  assigned: AssignedFrame,
  availability: AvailabilityFrame,
  rated: RatedFrame,
  note: NoteFrame,
} satisfies Record<string, TSchema>;
