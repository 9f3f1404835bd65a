export interface Candidate {
  id: number;
  load: number;
  maxConcurrent: number;
}

/**
 * Least busy first: the agent with the fewest owned conversations below their
 * max_concurrent; ties go to the earlier candidate (callers list the longest
 * online first). Null when everyone is full.
 */
export function pickAgent(candidates: Candidate[]): number | null {
  let best: Candidate | null = null;
  for (const c of candidates) {
    if (c.load >= c.maxConcurrent) continue;
    if (!best || c.load < best.load) best = c;
  }
  return best?.id ?? null;
}

/** The log line of a conversation's state change: who has it now, and why. */
export type AssignmentEvent = "queued" | "assigned" | "transferred" | "returned" | "closed" | "reopened";

/**
 * What a state change means to an operator: queued (handed to humans), assigned (an agent took it, by
 * claim or automatically), transferred (another agent has it now), returned (to the bot, or to the queue
 * when its agent stayed offline), closed.
 */
export function assignmentEvent(from: string, to: string): AssignmentEvent {
  if (to === "closed") return "closed";
  if (to === "agent") return from === "agent" ? "transferred" : "assigned";
  if (to === "queued") return from === "agent" ? "returned" : "queued";
  return from === "closed" ? "reopened" : "returned";
}

interface Change {
  conversation_id: string;
  from: string;
  to: string;
  /** The previous owner and the new one (null: nobody). */
  from_agent: number | null;
  agent: number | null;
  reason: string;
}

/** One info line per state change of a conversation ("conversation assigned", …); ids only, no texts. */
export function logAssignment(log: { info(msg: string, fields?: Record<string, unknown>): void }, c: Change): void {
  const event = assignmentEvent(c.from, c.to);
  log.info(`conversation ${event}`, {
    event,
    conversation_id: c.conversation_id,
    from: c.from,
    to: c.to,
    ...(c.from_agent !== null ? { from_agent_id: c.from_agent } : {}),
    ...(c.agent !== null ? { agent_id: c.agent } : {}),
    reason: c.reason,
  });
}
