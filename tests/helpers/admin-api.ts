import type { TestServer } from "./server";

/**
 * JSON calls to a test server's API as one account: `api(path)` GETs, `api(path, { body })` POSTs, `method`
 * for the rest; `token` overrides the account's token for one call.
 */
export function apiClient(server: () => TestServer, defaultToken: () => string) {
  return (path: string, init: { method?: string; body?: unknown; token?: string } = {}) =>
    fetch(`${server().url}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: { authorization: `Bearer ${init.token ?? defaultToken()}`, ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
}
