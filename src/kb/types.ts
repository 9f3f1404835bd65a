/** Shapes shared by the knowledge-base engine, import/export and routes. */

export interface KbEntry {
  id: string;
  question: string;
  /** Alternative phrasings of the question (labelled examples of how visitors ask). */
  alts: string[];
  answer: string;
  tags: string[];
  enabled: boolean;
  /** Unix milliseconds. */
  createdAt: number;
  updatedAt: number;
}

/** What a write supplies; `id` defaults to a hash of the normalized question. */
export interface EntryInput {
  id?: string;
  question: string;
  alts?: string[];
  answer: string;
  tags?: string[];
  enabled?: boolean;
}

export interface KbDocument {
  id: string;
  title: string;
  source: string;
  text: string;
  createdAt: number;
  updatedAt: number;
}

export interface DocumentInput {
  id?: string;
  title: string;
  source?: string;
  text: string;
}

/** How the answer path is decided from the top confidence. */
export interface Thresholds {
  /** At or above: answer verbatim. */
  direct: number;
  /** At or above (and below `direct`): offer "did you mean" with the top entries. */
  suggest: number;
}

export type AnswerPath = "direct" | "suggest" | "none";

export interface WriteResult {
  added: number;
  updated: number;
  unchanged: number;
  version: number;
}
