import type { ChainEvent } from "./degrade-chain";

/** Every event of a degrade-chain run (tests). */
export async function collect(gen: AsyncIterable<ChainEvent>): Promise<ChainEvent[]> {
  const out: ChainEvent[] = [];
  for await (const e of gen) out.push(e);
  return out;
}

/** The final `done` event, or a failure naming what came instead. */
export function done(events: ChainEvent[]) {
  const last = events.at(-1);
  if (last?.type !== "done") throw new Error(`expected done, got ${JSON.stringify(last)}`);
  return last;
}
