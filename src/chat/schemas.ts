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
export const VisitorHello = t.Object({
  type: t.Literal("hello"),
  v: t.Optional(t.Integer({ minimum: 1 })),
  visitor_id: t.Optional(t.String({ minLength: 1, maxLength: 64 })),
  token: t.Optional(t.String({ minLength: 1, maxLength: 256 })),
  /** The conversation `last_seq` counts in; when the server's current one differs, it replays from the start. */
  conversation_id: t.Optional(ConversationId),
  last_seq: t.Optional(t.Integer({ minimum: 0 })),
  lang: t.Optional(t.String({ maxLength: 35 })),
});
export const VisitorSend = t.Object({ type: t.Literal("send"), client_id: ClientId, text: Text });
export const VisitorTyping = t.Object({ type: t.Literal("typing"), on: t.Boolean() });
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
  limits: Limits,
});
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
export const TypingFrame = t.Object({ type: t.Literal("typing"), conversation_id: t.Optional(t.String()), from: Sender, on: t.Boolean() });
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

export const ConversationSummary = t.Object({
  conversation_id: t.String(),
  visitor_id: t.String(),
  state: ConversationState,
  agent: t.Optional(AgentRef),
  lang: t.String(),
  last_seq: t.Integer(),
  last_text: t.Optional(t.String()),
  created_at: t.Integer(),
  updated_at: t.Integer(),
  queued_at: t.Optional(t.Integer()),
  /** Why it waits for a human (keyword, visitor, bot_misses, plugin, bot, off_hours): the ticket's reason. */
  queued_reason: t.Optional(t.String()),
});
export type ConversationSummary = Static<typeof ConversationSummary>;

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
} satisfies Record<string, TSchema>;
