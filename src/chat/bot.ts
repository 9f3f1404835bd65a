import type { Choice, Source } from "./schemas";
import type { Lang } from "./texts";

/** What a bot produces while answering the visitor's unanswered messages. */
/**
 * How an answer came about, for the answer log (src/insights): `choices` offered "did you mean" entries,
 * `choice` answered a picked one, `local` the local model, `busy` no model slot or answer slot in time.
 */
export type AnswerKind = "cache" | "direct" | "choices" | "choice" | "llm" | "local" | "plugin" | "fallback" | "pending" | "busy";

export type BotEvent =
  /** A piece of the reply being generated; streamed to clients as `delta` frames. */
  | { type: "delta"; text: string }
  /** Discard the pieces so far (the source streaming them failed; another one answers). */
  | { type: "reset" }
  /**
   * The complete reply. `confident: false` means the bot did not really know
   * (fallback text); enough of those in a row hand the conversation to a human.
   * `choices` are the entries offered as "did you mean …". `path`, `step`, `entryId` (the entry answered
   * verbatim, else the top entry) and `confidence` (the top entry's) are recorded by the answer log.
   */
  | {
      type: "answer";
      text: string;
      sources?: Source[];
      choices?: Choice[];
      confident: boolean;
      path?: AnswerKind;
      step?: string;
      entryId?: string;
      confidence?: number;
    }
  /** The bot decides a human should take over (text streamed so far is dropped). */
  | { type: "handoff"; reason?: string };

export interface BotInput {
  conversationId: string;
  /** The visitor's messages since the last reply, joined by newlines: one question. */
  text: string;
  /** The same messages one by one, oldest first (one element for a single message). */
  parts?: string[];
  lang: Lang;
  /** Aborted when the reply is no longer wanted (a newer message, an agent took over, timeout, shutdown). */
  signal: AbortSignal;
  /** How long the messages waited for an answer slot (overload); it counts toward the answer deadline. */
  queuedMs?: number;
}

/** The answer of a chosen entry, verbatim. */
export interface ChosenAnswer {
  text: string;
  sources: Source[];
}

/** Anything that answers visitor messages: the answer pipeline (src/answer), or a scripted bot in tests. */
export interface Bot {
  reply(input: BotInput): AsyncIterable<BotEvent>;
  /** The answer of an entry the visitor picked from offered choices; null when it is gone or disabled. */
  choose?(entryId: string): Promise<ChosenAnswer | null>;
}

/**
 * One answered visitor question, for the answer log (src/insights). The chat records it inside the transaction
 * (or group commit) that stores the reply; /api/ask after the answer. `human`: an agent's reply to visitor
 * messages no bot reply answered.
 */
export interface AnsweredQuestion {
  source: "chat" | "api";
  conversationId: string | null;
  /** The newest visitor message of the question (chat). */
  visitorSeq: number | null;
  /** The reply's row (chat). */
  replySeq: number | null;
  question: string;
  path: AnswerKind | "human";
  step?: string;
  entryId?: string;
  confidence: number;
  /** Chat: from the newest visitor message of the question being stored to the reply being stored. */
  latencyMs: number;
}

/** Writes one answer-log row; never throws (a lost log row must not lose the reply it describes). */
export type AnswerRecorder = (a: AnsweredQuestion) => void | Promise<void>;
