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
