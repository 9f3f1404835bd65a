/**
 * Cross-connection delivery. Features publish and subscribe by topic (for example
 * `conv:<id>` or `agents`); they never hold references to each other's sockets.
 * A multi-node deployment swaps this in-process bus for Redis or NATS behind the
 * same interface.
 */
export type Handler<T = unknown> = (event: T) => void;

export interface EventBus {
  publish<T>(topic: string, event: T): void;
  /** Returns the unsubscribe function. */
  subscribe<T>(topic: string, handler: Handler<T>): () => void;
  /** Number of subscribers on a topic (presence checks, tests). */
  subscribers(topic: string): number;
}

export function createInProcessBus(onHandlerError?: (err: unknown, topic: string) => void): EventBus {
  const topics = new Map<string, Set<Handler>>();
  return {
    publish(topic, event) {
      const set = topics.get(topic);
      if (!set) return;
      // Copy: a handler may unsubscribe (socket closed) while we iterate.
      for (const h of [...set]) {
        try {
          h(event);
        } catch (err) {
          onHandlerError?.(err, topic);
        }
      }
    },
    subscribe(topic, handler) {
      let set = topics.get(topic);
      if (!set) topics.set(topic, (set = new Set()));
      set.add(handler as Handler);
      return () => {
        set.delete(handler as Handler);
        if (set.size === 0 && topics.get(topic) === set) topics.delete(topic);
      };
    },
    subscribers(topic) {
      return topics.get(topic)?.size ?? 0;
    },
  };
}
