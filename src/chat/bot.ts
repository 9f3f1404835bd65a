import type { Source } from "./schemas";
import { type Lang, say } from "./texts";

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

/** Anything that answers visitor messages: the simple KB bot below, or the answer pipeline. */
export interface Bot {
  reply(input: BotInput): AsyncIterable<BotEvent>;
}

/** The knowledge base's best direct match for a question, or null. */
export type KbLookup = (text: string) => Promise<{ answer: string; id: string; confidence: number } | null>;

/** A lookup with no knowledge, used until a knowledge base is wired in. */
export const noKnowledge: KbLookup = async () => null;

export interface SimpleBotOptions {
  /** Matches below this confidence are not used. Default 0.6. */
  minConfidence?: number;
}

/**
 * Answers with the knowledge base's best direct match, or with a fallback that
 * offers a human (an unconfident answer, so the handoff counter moves).
 */
export function createSimpleBot(lookup: KbLookup, opts: SimpleBotOptions = {}): Bot {
  const minConfidence = opts.minConfidence ?? 0.6;
  return {
    async *reply({ text, lang }) {
      const hit = await lookup(text);
      if (hit && hit.confidence >= minConfidence) {
        yield { type: "answer", text: hit.answer, sources: [{ id: hit.id }], confident: true };
      } else {
        yield { type: "answer", text: say(lang, "bot_fallback"), confident: false };
      }
    },
  };
}
