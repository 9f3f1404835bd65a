import type { Source } from "./schemas";
import type { Lang } from "./texts";

/** What a bot produces while answering one visitor message. */
export type BotEvent =
  /** A piece of the reply being generated; streamed to clients as `delta` frames. */
  | { type: "delta"; text: string }
  /** Discard the pieces so far (the source streaming them failed; another one answers). */
  | { type: "reset" }
  /**
   * The complete reply. `confident: false` means the bot did not really know
   * (fallback text); enough of those in a row hand the conversation to a human.
   */
  | { type: "answer"; text: string; sources?: Source[]; confident: boolean }
  /** The bot decides a human should take over (text streamed so far is kept). */
  | { type: "handoff"; reason?: string };

export interface BotInput {
  conversationId: string;
  text: string;
  lang: Lang;
  /** Aborted when the reply is no longer wanted (a newer message, an agent took over, timeout, shutdown). */
  signal: AbortSignal;
}

/** Anything that answers visitor messages: the answer pipeline (src/answer), or a scripted bot in tests. */
export interface Bot {
  reply(input: BotInput): AsyncIterable<BotEvent>;
}
