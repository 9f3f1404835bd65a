/**
 * The admin API's shapes as the console reads them (docs/api.md): the server's own types where a module
 * declares them, imported as types only (nothing of the server is bundled), else declared here.
 */
import type { Dashboard } from "../../insights/dashboard";
import type { UnansweredGroup } from "../../insights/unanswered";
import type { EntryView } from "../../kb/entry-list";
import type { ImportReport } from "../../kb/import/apply";
import type { BatchOutcome, BatchRun as ServerBatchRun } from "../../kb/tuning/batch-runs";

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

/** An entry as the admin API sends it (snake_case, ISO times, hit counts). */
export type Entry = EntryView;

export type EntryBody = Pick<Entry, "question" | "alt_questions" | "answer" | "tags" | "enabled"> & { id?: string };

export interface EntryList {
  version: number;
  total: number;
  entries: Entry[];
}

export type { Dashboard, ImportReport, UnansweredGroup };

export interface HitTest {
  q: string;
  thresholds: { direct: number; suggest: number };
  decision: { path: string; reason: string; entry_id?: string | null };
  entries: { id: string; question: string; matched?: string; confidence: number; signals?: Record<string, number>; explanation?: string }[];
}

export type { BatchOutcome };
/** A saved run: its summary in the list, with outcomes when opened or just made. */
export type BatchRun = Omit<ServerBatchRun, "outcomes" | "unknown_expected"> & Partial<Pick<ServerBatchRun, "outcomes" | "unknown_expected">>;

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
