import type { StoredMessage } from "./conversation-store";
import type { Sender } from "./schemas";
import type { ConversationEvent } from "./service";

const REPLAY_PAGE = 500;
/** Own messages remembered per socket at most (each is forgotten once covered; this only bounds a leak). */
const OWN_MAX = 1000;

/**
 * The messages one socket sent (by client_id), from the frame until the stream has passed their seq. The
 * socket gets each of them as its ack (the live event of its own message is not sent back), so a refetch
 * from storage (a gap: an event of another node overtaken by a local one, or `bus:resync`) must skip their
 * rows too: whichever of ack and refetch comes first, the other would be the same seq a second time.
 */
export class OwnMessages {
  /** client_id → the conversation it was sent in (null: whichever the visitor's is when it is stored). */
  private readonly ids = new Map<string, string | null>();
  constructor(private readonly sender: Sender) {}

  add(clientId: string, conversationId: string | null = null) {
    this.ids.delete(clientId);
    this.ids.set(clientId, conversationId);
    if (this.ids.size > OWN_MAX) this.ids.delete(this.ids.keys().next().value!);
  }

  forget(clientId: string) {
    this.ids.delete(clientId);
  }

  /** The stored row is one of them: the socket has (or gets) it as an ack. Forgotten then (it is behind `lastSent`). */
  covers(r: StoredMessage): boolean {
    if (r.sender !== this.sender || r.clientId === null || !this.ids.has(r.clientId)) return false;
    const conv = this.ids.get(r.clientId);
    if (conv !== null && conv !== r.conversationId) return false;
    this.ids.delete(r.clientId);
    return true;
  }

  /** Its ack goes out: once the stream is past its seq no refetch can bring it again. */
  acked(clientId: string, seq: number, stream: StreamFollow | undefined | null) {
    if (!stream || seq <= stream.lastSent) this.ids.delete(clientId);
  }
}

/**
 * One socket following one conversation's stream. Live events come from the bus; rows it missed come
 * from storage by seq (a gap, a replay asked for, or `bus:resync`). Reading storage takes awaits, so while
 * a read runs the live events are held back and delivered after it, in the order they came: a frame is
 * never overtaken by an older one, and the seq check of `deliver` drops what the read already sent.
 */
export class StreamFollow {
  /** Highest seq sent to the socket. */
  lastSent: number;
  /** The socket stopped following (closed, unwatched, switched conversation): reads stop sending. */
  ended = false;
  private held: ConversationEvent[] | null = null;
  private pending = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly conversationId: string,
    lastSent: number,
    /** The delivery rule for a live event (sees `held` cleared: runs only when nothing is being read). */
    private readonly deliver: (ev: ConversationEvent) => void,
    private readonly onError: (err: unknown) => void,
  ) {
    this.lastSent = lastSent;
  }

  /** A live event from the bus. */
  push(ev: ConversationEvent) {
    if (this.held) this.held.push(ev);
    else if (!this.ended) this.deliver(ev);
  }

  /** Runs `job` (storage reads that send) with live events held back; they follow it, in order. Resolves once they are out. */
  hold(job: () => Promise<void>): Promise<void> {
    this.pending++;
    this.held ??= [];
    this.chain = this.chain
      .then(() => (this.ended ? undefined : job()))
      .catch(this.onError)
      .finally(() => {
        if (--this.pending > 0) return;
        const held = this.held ?? [];
        this.held = null;
        for (const ev of held) this.push(ev);
      });
    return this.chain;
  }

  /** Sends the stored rows after `afterSeq` (default: what this socket has not been sent), page by page. */
  replay(messagesAfter: (conversationId: string, afterSeq: number, limit: number) => Promise<StoredMessage[]>, send: (row: StoredMessage) => void, afterSeq?: number) {
    return this.hold(async () => {
      for (let after = afterSeq ?? this.lastSent; ; ) {
        const rows = await messagesAfter(this.conversationId, after, REPLAY_PAGE);
        if (this.ended) return;
        for (const r of rows) send(r);
        if (rows.length) {
          after = rows[rows.length - 1]!.seq;
          this.lastSent = Math.max(this.lastSent, after);
        }
        if (rows.length < REPLAY_PAGE) return;
      }
    });
  }

  /** The catch-up after a gap or a resync: only what is newer than what was sent, and not the socket's own messages (their acks are their copies). */
  catchUp(messagesAfter: (conversationId: string, afterSeq: number, limit: number) => Promise<StoredMessage[]>, send: (row: StoredMessage) => void, own?: OwnMessages) {
    return this.replay(messagesAfter, (r) => {
      if (r.seq <= this.lastSent) return;
      this.lastSent = r.seq;
      if (!own?.covers(r)) send(r);
    });
  }
}
