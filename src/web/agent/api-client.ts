import type { Canned, CannedCreateBody, CannedPatchBody, Detail, Note, QueueSnapshot, Summary, Suggestions, User } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Session {
  token: string;
  user: User;
  expires_at?: string;
}

/**
 * The REST side of the console. Every call carries the session's bearer token; a 401 means the session is
 * over (logout elsewhere, expiry) and `onUnauthorized` signs the console out.
 */
export function createApi(token: () => string | null, onUnauthorized: () => void) {
  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    const bearer = token();
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
    if (!res.ok) {
      const code = data?.error?.code ?? `http_${res.status}`;
      if (res.status === 401 && bearer && !path.startsWith("/api/auth/login")) onUnauthorized();
      throw new ApiError(res.status, code, data?.error?.message ?? code);
    }
    return data as T;
  }
  const conv = (id: string) => `/api/agent/conversations/${encodeURIComponent(id)}`;

  return {
    login: (name: string, password: string) => request<Session>("POST", "/api/auth/login", { name, password }),
    logout: () => request<{ ok: true }>("POST", "/api/auth/logout"),
    me: () => request<{ user: User }>("GET", "/api/auth/me"),
    queue: () => request<QueueSnapshot>("GET", "/api/agent/queue"),
    conversation: (id: string) => request<Detail>("GET", conv(id)),
    search: (q: string) => request<{ conversations: Summary[] }>("GET", `/api/agent/conversations?q=${encodeURIComponent(q)}&limit=50`),
    notes: (id: string) => request<{ notes: Note[] }>("GET", `${conv(id)}/notes`),
    suggestions: (id: string) => request<Suggestions>("GET", `${conv(id)}/suggestions`),
    setTags: (id: string, tags: string[]) => request<Summary>("PUT", `${conv(id)}/tags`, { tags }),
    canned: () => request<{ canned: Canned[] }>("GET", "/api/agent/canned"),
    addCanned: (c: CannedCreateBody) => request<{ canned: Canned }>("POST", "/api/agent/canned", c),
    updateCanned: (id: Canned["id"], c: CannedPatchBody) => request<{ canned: Canned }>("PATCH", `/api/agent/canned/${id}`, c),
    deleteCanned: (id: Canned["id"]) => request<unknown>("DELETE", `/api/agent/canned/${id}`),
  };
}

export type Api = ReturnType<typeof createApi>;
