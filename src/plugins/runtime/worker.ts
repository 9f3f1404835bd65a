/**
 * The worker side of a plugin. Bundled at run time (src/plugins/bundle.ts) together with one version of one
 * plugin into a single file that a Worker runs: this file is embedded as text, so it must stay
 * self-contained (no imports but the plugin itself, which the bundler provides as "kefu:plugin-entry").
 *
 * Protocol (structured-clone messages; see src/plugins/protocol.ts for the types):
 *   host → worker: init, setup {config}, call {id, hook, ctx, args}, dispose, host-ret {id, ok, value|error}
 *   worker → host: loaded {info} | failed {stage, message}, setup-done | failed, ret {id, ok, value|error},
 *                  host {id, op, args} (kv, kb, send), log {level, msg, fields}, disposed
 */
// @ts-expect-error: resolved by the plugin bundler, not by tsc
import * as entry from "kefu:plugin-entry";

type Msg = Record<string, any>;
declare const self: { onmessage: ((e: { data: Msg }) => void) | null; postMessage(m: Msg): void };

const post = (m: Msg) => self.postMessage(m);
// The default export; `plugin`: a named export the first plugin API also accepted.
const def = ((entry as Msg).default ?? (entry as Msg).plugin ?? {}) as Msg;
let hostSeq = 0;
const hostCalls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let config: Record<string, unknown> = {};
let fetchTimeoutMs = 5000;
let version = "0";

function host(op: string, ...args: unknown[]): Promise<any> {
  const id = ++hostSeq;
  return new Promise((resolve, reject) => {
    hostCalls.set(id, { resolve, reject });
    post({ t: "host", id, op, args });
  });
}

const log = Object.fromEntries(
  ["debug", "info", "warn", "error"].map((level) => [level, (msg: string, fields?: Record<string, unknown>) => post({ t: "log", level, msg: String(msg), fields: plain(fields ?? {}) })]),
);

/** A value as JSON data; throws when it has none (cyclic, a function). */
function json(v: unknown): unknown {
  if (v === undefined) return null;
  const text = JSON.stringify(v, (_k, x) => (x instanceof Error ? { message: x.message } : typeof x === "bigint" ? String(x) : x));
  if (text === undefined) throw new TypeError(`not JSON data (${typeof v})`);
  return JSON.parse(text);
}

function plain(v: unknown): unknown {
  try {
    return json(v);
  } catch {
    return String(v);
  }
}

/** What ctx.kv.set stores: JSON data, or a rejection saying why not (never a silent "[object Object]"). */
function storable(v: unknown): unknown {
  try {
    return json(v);
  } catch (err) {
    throw new TypeError(`kv values must be JSON data: ${(err as Error).message}`);
  }
}

async function fetchWithTimeout(url: string | URL, init: RequestInit & { timeout_ms?: number } = {}) {
  const { timeout_ms, ...rest } = init;
  const signal = AbortSignal.timeout(timeout_ms ?? fetchTimeoutMs);
  return fetch(url, { ...rest, signal: rest.signal ? AbortSignal.any([rest.signal, signal]) : signal });
}

function baseContext() {
  return {
    plugin: { name: String(def.name), version },
    config,
    log,
    kv: {
      get: (key: string) => host("kv.get", key),
      set: async (key: string, value: unknown, opts?: { ttl_s?: number }) => host("kv.set", key, storable(value), opts?.ttl_s ?? null),
      delete: (key: string) => host("kv.delete", key),
      list: (prefix = "", limit = 100) => host("kv.list", prefix, limit),
    },
    kb: { search: (query: string, k = 5) => host("kb.search", query, k) },
    fetch: fetchWithTimeout,
    send: (conversationId: string, text: string) => host("send", conversationId, text),
  };
}

const HOOKS = ["onMessage", "onAnswer", "onConversation", "setup", "dispose"];

function describe(): { ok: true; info: Msg } | { ok: false; message: string } {
  if (!def || typeof def !== "object") return { ok: false, message: "the default export must be definePlugin({...})" };
  if (typeof def.name !== "string") return { ok: false, message: "the plugin needs a string `name`" };
  for (const h of HOOKS) if (h in def && typeof def[h] !== "function") return { ok: false, message: `${h} must be a function` };
  const routes = def.routes ?? [];
  if (!Array.isArray(routes)) return { ok: false, message: "routes must be an array" };
  for (const [i, r] of routes.entries()) {
    if (!r || typeof r.handler !== "function" || typeof r.path !== "string" || typeof r.method !== "string") {
      return { ok: false, message: `routes[${i}] needs method, path and handler` };
    }
  }
  return {
    ok: true,
    info: {
      name: def.name,
      version: typeof def.version === "string" ? def.version : null,
      hooks: [...HOOKS.filter((h) => typeof def[h] === "function"), ...(typeof def.breaker?.shouldOpen === "function" ? ["breaker"] : [])],
      routes: routes.map((r: Msg) => ({ method: String(r.method).toUpperCase(), path: r.path, public: r.public === true })),
      config_schema: plain(def.config ?? null),
    },
  };
}

async function call(hook: string, ctxData: Msg, args: unknown[]): Promise<unknown> {
  const ctx = { ...baseContext(), ...ctxData };
  if (hook === "route") {
    const route = (def.routes as Msg[])[args[0] as number]!;
    const out = await route.handler(ctx, args[1]);
    return out && typeof out === "object" && (out as Msg).__kefu_response === true ? { status: (out as Msg).status, body: plain((out as Msg).body) } : { status: 200, body: plain(out) };
  }
  if (hook === "breaker") return (await def.breaker.shouldOpen(...args)) === true;
  const fn = def[hook];
  if (typeof fn !== "function") return null;
  return plain(await fn.call(def, ctx, ...args));
}

const errorText = (e: unknown) => (e instanceof Error ? e.message || e.name : String(e));

self.onmessage = (e) => {
  const m = e.data;
  switch (m.t) {
    case "init": {
      version = typeof def.version === "string" ? def.version : String(m.version);
      fetchTimeoutMs = m.fetch_timeout_ms ?? fetchTimeoutMs;
      const d = describe();
      post(d.ok ? { t: "loaded", info: d.info } : { t: "failed", stage: "validate", message: d.message });
      return;
    }
    case "setup":
      config = m.config ?? {};
      Promise.resolve()
        .then(() => (typeof def.setup === "function" ? def.setup(baseContext()) : undefined))
        .then(
          () => post({ t: "setup-done" }),
          (err) => post({ t: "failed", stage: "setup", message: errorText(err) }),
        );
      return;
    case "call":
      call(m.hook, m.ctx ?? {}, m.args ?? []).then(
        (value) => post({ t: "ret", id: m.id, ok: true, value }),
        (err) => post({ t: "ret", id: m.id, ok: false, error: errorText(err) }),
      );
      return;
    case "host-ret": {
      const c = hostCalls.get(m.id);
      if (!c) return;
      hostCalls.delete(m.id);
      if (m.ok) c.resolve(m.value);
      else c.reject(new Error(m.error));
      return;
    }
    case "dispose":
      Promise.resolve()
        .then(() => (typeof def.dispose === "function" ? def.dispose() : undefined))
        .then(
          () => post({ t: "disposed" }),
          (err) => post({ t: "disposed", error: errorText(err) }),
        );
      return;
  }
};
