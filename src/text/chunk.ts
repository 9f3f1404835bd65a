/**
 * Splits documents into overlapping chunks for retrieval, cutting at paragraph,
 * then sentence, then any boundary so chunks stay readable.
 */
export interface ChunkOptions {
  /** Target chunk length in characters (default 600). */
  size?: number;
  /** Characters repeated from the end of the previous chunk (default 100). */
  overlap?: number;
}

const BOUNDARIES = [/\n\s*\n/g, /(?<=[.!?。！？；;])\s*/g, /\s+/g];

export function chunkText(text: string, options: ChunkOptions = {}): string[] {
  const size = Math.max(50, options.size ?? 600);
  const overlap = Math.min(Math.max(0, options.overlap ?? 100), Math.floor(size / 2));
  const t = text.trim();
  if (t.length <= size) return t ? [t] : [];
  const chunks: string[] = [];
  let start = 0;
  while (start < t.length) {
    let end = Math.min(start + size, t.length);
    if (end < t.length) end = cutPoint(t, start + Math.floor(size / 2), end);
    const piece = t.slice(start, end).trim();
    if (piece) chunks.push(piece);
    if (end >= t.length) break;
    start = Math.max(end - overlap, start + 1);
  }
  return chunks;
}

/** Last boundary within [min, max), strongest kind first; `max` when none. */
function cutPoint(t: string, min: number, max: number): number {
  const window = t.slice(min, max);
  for (const re of BOUNDARIES) {
    let last = -1;
    for (const m of window.matchAll(re)) last = m.index! + m[0].length;
    if (last > 0) return min + last;
  }
  return max;
}
