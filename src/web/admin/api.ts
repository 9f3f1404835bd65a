import { ApiError } from "../agent/api-client";
import type {
  ApiToken,
  BatchCompare,
  BatchRun,
  Canned,
  ConversationRow,
  Dashboard,
  Entry,
  EntryBody,
  EntryList,
  HitTest,
  ImportReport,
  Session,
  SystemInfo,
  ThresholdPreview,
  Thresholds,
  TranscriptMessage,
  UnansweredGroup,
  User,
} from "./types";

/** The agent console's error type (status, code, message) with the error's `details` (an import's report). */
export class AdminApiError extends ApiError {
  constructor(status: number, code: string, message: string, readonly details?: unknown) {
    super(status, code, message);
  }
}
export { ApiError };

/** A 404 on a list or settings route: this server has no such API (an older kefu, or a feature not yet built). */
export const isMissing = (err: unknown) => err instanceof ApiError && err.status === 404;

type Body = { json: unknown } | { form: FormData } | undefined;

/**
 * The admin REST API. Every call carries the session's bearer token; a 401 means the session is over and
 * `onUnauthorized` signs the console out.
 */
export function createApi(token: () => string | null, onUnauthorized: () => void) {
  async function send(method: string, path: string, body?: Body): Promise<Response> {
    const headers: Record<string, string> = {};
    const bearer = token();
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    let payload: BodyInit | undefined;
    if (body && "json" in body) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body.json);
    } else if (body) payload = body.form;
    const res = await fetch(path, { method, headers, body: payload });
    if (!res.ok) {
      const data = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string; details?: unknown } } | null;
      const code = data?.error?.code ?? `http_${res.status}`;
      if (res.status === 401 && bearer && !path.startsWith("/api/auth/login")) onUnauthorized();
      throw new AdminApiError(res.status, code, data?.error?.message ?? code, data?.error?.details);
    }
    return res;
  }
  async function request<T>(method: string, path: string, body?: Body): Promise<T> {
    const res = await send(method, path, body);
    if (res.status === 204) return undefined as T;
    return (await res.json().catch(() => null)) as T;
  }
  const get = <T>(path: string) => request<T>("GET", path);
  const json = <T>(method: string, path: string, body: unknown) => request<T>(method, path, { json: body });
  const kb = "/api/admin/kb";
  const enc = encodeURIComponent;

  return {
    login: (name: string, password: string) => json<Session>("POST", "/api/auth/login", { name, password }),
    logout: () => request<unknown>("POST", "/api/auth/logout"),
    me: () => get<{ user: User }>("/api/auth/me"),
    /** A file the server sends as an attachment (export, template), fetched with the bearer token. */
    download: async (path: string) => (await send("GET", path)).blob(),

    entries: (query: string) => get<EntryList>(`${kb}/entries?${query}`),
    tags: () => get<{ tags: { tag: string; count: number }[] }>(`${kb}/tags`),
    entry: (id: string) => get<Entry>(`${kb}/entries/${enc(id)}`),
    createEntry: (e: EntryBody) => json<Entry>("POST", `${kb}/entries`, e),
    updateEntry: (id: string, e: EntryBody) => json<Entry>("PUT", `${kb}/entries/${enc(id)}`, e),
    deleteEntry: (id: string) => request<unknown>("DELETE", `${kb}/entries/${enc(id)}`),
    bulk: (action: "delete" | "enable" | "disable", ids: string[]) => json<{ affected: number; version: number }>("POST", `${kb}/entries/bulk`, { action, ids }),
    removeDemo: () => json<{ deleted: number; version: number }>("POST", `${kb}/demo/remove`, {}),
    documents: () => get<{ documents: { id: string; title: string; source?: string; created_at: string; updated_at: string }[] }>(`${kb}/documents`),
    deleteDocument: (id: string) => request<unknown>("DELETE", `${kb}/documents/${enc(id)}`),
    importFile: (form: FormData) => request<ImportReport>("POST", `${kb}/import`, { form }),

    hitTest: (q: string) => json<HitTest>("POST", `${kb}/hit-test`, { q }),
    batchRuns: () => get<{ runs: BatchRun[] }>(`${kb}/batch-runs`),
    batchRun: (id: BatchRun["id"]) => get<BatchRun>(`${kb}/batch-runs/${enc(String(id))}`),
    runBatch: (name: string, text: string) => json<BatchRun>("POST", `${kb}/batch-runs`, name ? { name, text } : { text }),
    deleteBatchRun: (id: BatchRun["id"]) => request<unknown>("DELETE", `${kb}/batch-runs/${enc(String(id))}`),
    compareRuns: (a: BatchRun["id"], b: BatchRun["id"]) => get<BatchCompare>(`${kb}/batch-runs/${enc(String(a))}/compare/${enc(String(b))}`),

    thresholds: () => get<Thresholds>(`${kb}/thresholds`),
    previewThresholds: (direct: number, suggest: number) => get<ThresholdPreview>(`${kb}/thresholds/preview?direct=${direct}&suggest=${suggest}`),
    saveThresholds: (direct: number, suggest: number) => json<Thresholds>("PUT", `${kb}/thresholds`, { direct, suggest }),
    revertThresholds: () => request<unknown>("DELETE", `${kb}/thresholds`),

    unanswered: (days: number) => get<{ groups: UnansweredGroup[] }>(`/api/admin/unanswered?days=${days}`),
    resolve: (body: { log_ids: number[]; entry?: Omit<EntryBody, "enabled">; entry_id?: string; phrasings?: string[] }) =>
      json<{ entry: Entry }>("POST", "/api/admin/unanswered/resolve", body),
    dismiss: (log_ids: number[]) => json<{ dismissed: number }>("POST", "/api/admin/unanswered/dismiss", { log_ids }),

    dashboard: (days: number) => get<Dashboard>(`/api/admin/dashboard?days=${days}`),
    conversations: (query: string) => get<{ total: number; conversations: ConversationRow[] }>(`/api/admin/conversations?${query}`),
    conversation: (id: string) =>
      get<{ conversation: ConversationRow; messages: TranscriptMessage[]; notes?: { text: string; agent?: { name?: string }; at?: string | number }[] }>(
        `/api/admin/conversations/${enc(id)}`,
      ),

    users: () => get<{ users: User[] }>("/api/admin/users"),
    addUser: (u: { name: string; role: string; password: string; display_name?: string; max_concurrent?: number }) => json<{ user: User }>("POST", "/api/admin/users", u),
    patchUser: (id: number, patch: Partial<Pick<User, "display_name" | "role" | "max_concurrent" | "disabled">>) => json<{ user: User }>("PATCH", `/api/admin/users/${id}`, patch),
    setPassword: (id: number, password: string) => json<unknown>("POST", `/api/admin/users/${id}/password`, { password }),
    canned: () => get<{ canned: Canned[] }>("/api/agent/canned"),
    addCanned: (c: { shortcut: string; title?: string | null; text: string; shared?: boolean }) => json<{ canned: Canned }>("POST", "/api/agent/canned", c),
    deleteCanned: (id: number) => request<unknown>("DELETE", `/api/agent/canned/${id}`),
    tokens: () => get<{ tokens: ApiToken[] }>("/api/admin/tokens"),
    createToken: (label: string) => json<ApiToken>("POST", "/api/admin/tokens", { label }),
    revokeToken: (id: ApiToken["id"]) => request<unknown>("DELETE", `/api/admin/tokens/${enc(String(id))}`),
    system: () => get<SystemInfo>("/api/admin/system"),
  };
}

export type Api = ReturnType<typeof createApi>;
