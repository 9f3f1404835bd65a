/**
 * Types of the kefu plugin API: `import { definePlugin } from "kefu/plugin"`.
 *
 * kefu provides the module at run time (also from the compiled binary); this file only gives editors and
 * `tsc` its types. `kefu init` writes it next to the example plugins. Reference: docs/plugins.md.
 */
declare module "kefu/plugin" {
  export type Lang = "zh" | "en";

  /** A plain JSON value: everything crossing into or out of a plugin is copied as JSON-like data. */
  export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

  export interface Visitor {
    id: string;
    name: string | null;
    email: string | null;
    /** The shop's own user id, when the page told it. */
    external_id: string | null;
    /** True when the shop signed the identity (widget identity verification): trust `external_id`. */
    verified: boolean;
  }

  export interface Conversation {
    id: string;
    /** bot | queued | agent | closed */
    state: string;
    lang: Lang;
  }

  export interface Message {
    /** The visitor's question (several messages answered together are joined by newlines). */
    text: string;
    /** The same messages one by one. */
    parts: string[];
    lang: Lang;
  }

  /** Key/value store of this plugin, persisted in kefu's SQLite database. Values are JSON. */
  export interface KvStore {
    get<T = Json>(key: string): Promise<T | null>;
    /** `ttl_s`: the key is gone after this many seconds. */
    set(key: string, value: unknown, opts?: { ttl_s?: number }): Promise<void>;
    delete(key: string): Promise<boolean>;
    /** Keys starting with `prefix`, in key order. */
    list<T = Json>(prefix?: string, limit?: number): Promise<{ key: string; value: T }[]>;
  }

  export interface Logger {
    debug(msg: string, fields?: Record<string, unknown>): void;
    info(msg: string, fields?: Record<string, unknown>): void;
    warn(msg: string, fields?: Record<string, unknown>): void;
    error(msg: string, fields?: Record<string, unknown>): void;
  }

  export interface KbHit {
    id: string;
    question: string;
    answer: string;
    /** 0..1 */
    confidence: number;
  }

  /** What every hook, route and setup gets. */
  export interface BaseContext {
    plugin: { name: string; version: string };
    /** The `[plugins.<name>]` section of config.toml, validated against `config` (defaults filled in). */
    config: Record<string, Json>;
    kv: KvStore;
    log: Logger;
    kb: { search(query: string, k?: number): Promise<KbHit[]> };
    /** fetch with a timeout (`timeout_ms`, default `[plugins] fetch_timeout_ms`). */
    fetch(url: string | URL, init?: RequestInit & { timeout_ms?: number }): Promise<Response>;
    /**
     * Posts a bot message into a conversation: "one moment, checking…" from inside a hook (it goes out before
     * the hook's answer), or a late result after the hook returned. False when the conversation cannot take one,
     * or after too many (a burst of 10, then one a second per conversation). Cut to `[chat] max_text_chars`.
     */
    send(conversationId: string, text: string): Promise<boolean>;
  }

  export interface MessageContext extends BaseContext {
    /** Null for POST /api/ask (no conversation). */
    conversation: Conversation | null;
    visitor: Visitor | null;
    message: Message;
  }

  /** Answer (text, optional quick-reply choices and sources), hand off to a human, or pass (nothing). */
  export type MessageResult =
    | { text: string; choices?: string[]; sources?: { id: string; title?: string; url?: string }[] }
    | { handoff: true; reason?: string }
    | null
    | undefined
    | void;

  /** The answer kefu is about to send. */
  export interface Answer {
    text: string;
    /** cache | direct | llm | plugin | fallback | pending | choice */
    path: string;
    confidence: number;
    sources: { id: string; title?: string; url?: string }[];
    /** The plugin that answered (path plugin). */
    plugin?: string;
  }

  /** Rewrite the text, veto the answer (the visitor is offered a human instead), or keep it (nothing). */
  export type AnswerVerdict = { text: string } | { veto: true; reason?: string } | null | undefined | void;

  export type ConversationEvent =
    | { type: "started"; conversation_id: string; visitor_id: string }
    | { type: "queued"; conversation_id: string; reason: string }
    | { type: "assigned"; conversation_id: string; agent_id: number; reason: string }
    | { type: "closed"; conversation_id: string; reason: string }
    | { type: "rated"; conversation_id: string; score: number; comment?: string };

  export interface RouteRequest {
    method: string;
    /** The path below /api/plugins/<name>, e.g. "/requests/42". */
    path: string;
    params: Record<string, string>;
    query: Record<string, string>;
    body: Json;
    /** The signed-in admin (null on public routes). */
    user: { id: number; name: string; role: string } | null;
    client_ip: string;
  }

  export interface Route {
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
    /** Below /api/plugins/<name>; `:param` segments, e.g. "/orders/:id". */
    path: string;
    /** Anyone may call it (rate-limited per client address). Default: admins only. */
    public?: boolean;
    /** Returns the JSON body (status 200), or `respond(status, body)`. */
    handler(ctx: BaseContext, req: RouteRequest): unknown | Promise<unknown>;
  }

  /** A small JSON Schema subset for the plugin's config section (object, string, number, integer, boolean, array). */
  export interface ConfigSchema {
    type?: "object" | "string" | "number" | "integer" | "boolean" | "array";
    properties?: Record<string, ConfigSchema>;
    required?: string[];
    additionalProperties?: boolean;
    items?: ConfigSchema;
    enum?: Json[];
    default?: Json;
    minimum?: number;
    maximum?: number;
    pattern?: string;
    description?: string;
  }

  export interface BreakerWindow {
    provider: string;
    window_ms: number;
    requests: number;
    failures: number;
    failure_rate: number;
  }

  export interface PluginDefinition {
    /** Lower-case letters, digits and dashes: the config section, the route prefix and the admin API name. */
    name: string;
    version?: string;
    /** Schema of `[plugins.<name>]`; a section that does not match stops the plugin from loading (stage validate). */
    config?: ConfigSchema;
    /** Before the knowledge base, in `[plugins] order`: the first plugin that answers or hands off wins. */
    onMessage?(ctx: MessageContext): MessageResult | Promise<MessageResult>;
    /** Every answer before it is sent, in order: a rewrite is what the next plugin sees. */
    onAnswer?(ctx: MessageContext, answer: Answer): AnswerVerdict | Promise<AnswerVerdict>;
    /** Conversation events, after the fact (the result is ignored). */
    onConversation?(ctx: BaseContext, event: ConversationEvent): unknown;
    routes?: Route[];
    /**
     * When an LLM provider's circuit breaker opens, instead of `[llm] breaker_failure_rate`: asked after each
     * call's outcome while the breaker is closed; true opens it (at the provider's next outcome: the answer
     * comes from the worker). The first active plugin with a breaker decides for every provider.
     */
    breaker?: { shouldOpen(window: BreakerWindow, outcome: { ok: boolean; error: string | null }): boolean | Promise<boolean> };
    /** Runs when this version loads; a throw keeps the previous version (stage setup). */
    setup?(ctx: BaseContext): unknown;
    /** Runs when this version is replaced or unloaded: stop timers, close connections. */
    dispose?(): unknown;
  }

  export function definePlugin<T extends PluginDefinition>(plugin: T): T;
  /** A route response with a status other than 200. */
  export function respond(status: number, body: unknown): { readonly status: number; readonly body: unknown };
}
