/**
 * The admin API's shapes as the console reads them (docs/api.md; the contract of issue 14). Declared here
 * rather than imported from the server so the console builds whatever the server's schemas are called.
 * Fields a newer server adds are ignored; fields an older one lacks are optional.
 */

export interface User {
  id: number;
  name: string;
  role: string;
  display_name?: string | null;
  max_concurrent?: number;
  disabled?: boolean;
  created_at?: string;
}

export interface Session {
  token: string;
  user: User;
  expires_at?: string;
}

export interface Entry {
  id: string;
  question: string;
  alt_questions: string[];
  answer: string;
  tags: string[];
  enabled: boolean;
  document_id?: string | null;
  created_at?: string;
  updated_at?: string;
  hits?: number;
  last_hit_at?: string | null;
}

export type EntryBody = Pick<Entry, "question" | "alt_questions" | "answer" | "tags" | "enabled"> & { id?: string };

export interface EntryList {
  version: number;
  total: number;
  entries: Entry[];
}

export interface ImportReport {
  dry_run: boolean;
  mode: "upsert" | "replace";
  format: string;
  version: number;
  applied: boolean;
  counts: { added: number; updated: number; unchanged: number; deleted: number; rejected: number };
  added: { line: number; id: string; question: string }[];
  updated: { line: number; id: string; question: string; fields: string[] }[];
  unchanged: { line: number; id: string }[];
  deleted: { id: string; question: string }[];
  rejected: { line: number; error: string }[];
  chunks?: { index: number; text: string }[];
}

export interface HitTest {
  q: string;
  thresholds: { direct: number; suggest: number };
  decision: { path: string; reason: string };
  entries: { id: string; question: string; matched?: string; confidence: number; signals?: Record<string, number> }[];
}

export interface BatchOutcome {
  question: string;
  expected: string | null;
  top: string | null;
  confidence: number;
  decision: string;
  correct: boolean;
}

export interface BatchRun {
  id: string | number;
  name?: string | null;
  created_at: string;
  kb_version?: number;
  thresholds?: { direct: number; suggest: number };
  figures?: Record<string, unknown>;
  outcomes?: BatchOutcome[];
}

export interface BatchCompare {
  run?: BatchRun;
  other?: BatchRun;
  changed: { question: string; [k: string]: unknown }[];
  figures?: Record<string, unknown>;
}

export interface CurvePoint {
  direct: number;
  /** Null where nothing is answered directly at that threshold. */
  precision: number | null;
  coverage: number;
  false_direct_rate?: number | null;
}

/** What a pair of thresholds would do, estimated from a set of scored questions. */
export interface Estimate {
  precision: number | null;
  coverage: number;
  false_direct_rate?: number | null;
  suggest_share?: number;
  below_suggest_share?: number;
}

export interface Thresholds {
  direct: number;
  suggest: number;
  source: "config" | "settings";
  config?: { direct: number; suggest: number };
  updated_at?: string | null;
  updated_by?: string | null;
  calibration?: { status?: string; kb_version?: number; samples?: { in_scope: number; out_of_scope: number } | null };
  curve: CurvePoint[];
  batch_run?: { id: number; name?: string | null; created_at: string; stale?: boolean };
  batch_curve?: CurvePoint[];
}

export interface ThresholdPreview {
  direct: number;
  suggest: number;
  calibration?: { status?: string; estimate?: Estimate | null };
  batch_run?: { name?: string | null; stale?: boolean; estimate?: Estimate; figures?: Record<string, unknown> };
}

export interface UnansweredGroup {
  key: string;
  question: string;
  count: number;
  log_ids: number[];
  phrasings: { text: string; count: number }[];
  paths: Record<string, number>;
  last_at: string | number;
  agent_reply: { text: string; agent: string; at: string | number } | null;
  conversation_ids: string[];
}

export interface Dashboard {
  from: string;
  to: string;
  days: { date: string; conversations: number; messages: number }[];
  answers_by_path: Record<string, number>;
  auto_resolution: { rate: number; resolved: number; total: number };
  handoff: { rate: number; total: number; reasons: Record<string, number> };
  latency_ms: Record<string, { p50: number; p95: number; count: number }>;
  csat: { average: number | null; count: number };
  top_unanswered: { question: string; count: number }[];
}

/** A conversation row of the admin browser: the agent API's summary, loosely (fields vary by server). */
export interface ConversationRow {
  conversation_id?: string;
  id?: string;
  state?: string;
  visitor?: { id?: string; name?: string; email?: string; external_id?: string } | null;
  visitor_id?: string;
  agent?: { id?: number; name?: string } | null;
  tags?: string[];
  rating?: { score: number; comment?: string } | null;
  last_text?: string;
  created_at?: string | number;
  updated_at?: string | number;
}

export interface TranscriptMessage {
  seq?: number;
  from: string;
  text: string;
  at?: string | number;
  agent?: { name?: string } | null;
  type?: string;
}

export interface Canned {
  id: number;
  shortcut: string;
  title?: string;
  text: string;
  shared: boolean;
  owner_id: number;
  owner_name: string;
}

export interface ApiToken {
  id: string | number;
  label: string;
  created_at: string;
  last_used_at: string | null;
  token?: string;
}

export type SystemInfo = Record<string, unknown> & { version?: string; schema_version?: number; uptime_s?: number };
