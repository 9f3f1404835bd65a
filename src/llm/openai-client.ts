import { KefuError } from "../errors/kefu-error";
import type { ProviderConfig } from "./config";
import { parseSse, SseTooLargeError } from "./sse";

/**
 * OpenAI-compatible chat completions with SSE streaming: OpenAI, DeepSeek, Qwen (compatible mode),
 * Moonshot, Ollama (/v1), vLLM and the llama.cpp server all speak this dialect.
 *
 * Error codes (all KefuError):
 * - `llm_timeout` (504): connect, first-token or total timeout; `details.phase` says which.
 * - `llm_unreachable` (502): network failure before a response (refused, DNS, TLS, reset).
 * - `llm_http_error` (502): non-2xx answer, or an error object sent inside the stream.
 * - `llm_bad_stream` (502): body that is not a chat-completion stream, or ends before it is complete.
 * - `llm_aborted` (499): the caller's AbortSignal fired; not the provider's fault.
 */

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatOptions {
  /** Aborting cancels the upstream HTTP request (the provider stops generating). */
  signal?: AbortSignal;
  temperature?: number;
  max_tokens?: number;
}

export interface OpenAiClientDeps {
  /** Injected for tests; default global fetch. */
  fetch?: typeof fetch;
  /** Where `api_key_env` is looked up; default process.env. */
  env?: Record<string, string | undefined>;
}

type Phase = "connect" | "first_token" | "total";

interface ChunkJson {
  choices?: { delta?: { content?: unknown }; message?: { content?: unknown }; finish_reason?: unknown }[];
  error?: { message?: unknown; code?: unknown } | string;
}

const ERROR_BODY_CHARS = 300;

export class OpenAiClient {
  readonly name: string;
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly fetchImpl: typeof fetch;

  constructor(
    readonly config: ProviderConfig,
    deps: OpenAiClientDeps = {},
  ) {
    this.name = config.name;
    this.url = `${config.base_url.replace(/\/+$/, "")}/chat/completions`;
    this.fetchImpl = deps.fetch ?? fetch;
    let key = config.api_key;
    if (config.api_key_env !== undefined) {
      key = (deps.env ?? process.env)[config.api_key_env];
      // Fail at start-up, not on the first visitor question.
      if (!key) {
        throw new KefuError(
          "config_invalid",
          500,
          `llm provider "${config.name}": environment variable ${config.api_key_env} (api_key_env) is not set`,
        );
      }
    }
    this.headers = {
      "content-type": "application/json",
      accept: "text/event-stream, application/json",
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    };
  }

  /** Text deltas of the answer, in order. Empty deltas (role-only chunks, keep-alives) are skipped. */
  async *stream(messages: ChatMessage[], opts: ChatOptions = {}): AsyncGenerator<string, void, undefined> {
    const cfg = this.config;
    const { signal } = opts;
    if (signal?.aborted) throw this.aborted();
    const ctrl = new AbortController();
    let timedOut: Phase | null = null;
    const timers: Partial<Record<Phase, Timer>> = {};
    const arm = (phase: Phase, ms: number) => {
      timers[phase] = setTimeout(() => {
        timedOut = phase;
        ctrl.abort();
      }, ms);
    };
    const disarm = (phase: Phase) => clearTimeout(timers[phase]);
    const onAbort = () => ctrl.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    arm("total", cfg.timeout_ms);
    arm("connect", Math.min(cfg.connect_timeout_ms, cfg.timeout_ms));
    const started = performance.now();

    try {
      const body = JSON.stringify({
        model: cfg.model,
        messages,
        stream: true,
        ...pick("temperature", opts.temperature ?? cfg.temperature),
        ...pick("max_tokens", opts.max_tokens ?? cfg.max_tokens),
      });
      let res: Response;
      try {
        res = await this.fetchImpl(this.url, { method: "POST", headers: this.headers, body, signal: ctrl.signal });
      } catch (e) {
        if (ctrl.signal.aborted) throw e;
        throw new KefuError("llm_unreachable", 502, `llm provider "${this.name}" is unreachable: ${errText(e)}`, {
          provider: this.name,
        });
      }
      disarm("connect");
      arm("first_token", Math.max(0, Math.min(cfg.first_token_timeout_ms, cfg.timeout_ms) - (performance.now() - started)));

      if (!res.ok) {
        const text = await res.text().catch(() => "");
        throw this.httpError(res.status, text, res.headers.get("retry-after"));
      }
      const type = res.headers.get("content-type") ?? "";
      if (type.includes("application/json")) {
        // Some servers ignore `stream: true` and answer in one piece.
        const json = (await res.json().catch(() => {
          throw this.badStream("response body is not JSON");
        })) as ChunkJson;
        this.throwIfErrorObject(json);
        const content = json.choices?.[0]?.message?.content;
        if (typeof content !== "string") throw this.badStream("JSON response has no choices[0].message.content");
        if (content !== "") yield content;
        return;
      }
      if (!type.includes("text/event-stream")) throw this.badStream(`unexpected content-type "${type}"`);
      if (!res.body) throw this.badStream("empty response body");

      let finished = false;
      let gotToken = false;
      for await (const ev of parseSse(res.body)) {
        if (ev.data === "[DONE]") {
          finished = true;
          break;
        }
        let json: ChunkJson;
        try {
          json = JSON.parse(ev.data) as ChunkJson;
        } catch {
          throw this.badStream(`event data is not JSON: ${ev.data.slice(0, 80)}`);
        }
        this.throwIfErrorObject(json);
        // Chunks with empty `choices` (usage reports, Azure content-filter notes) carry no text.
        const choice = json.choices?.[0];
        if (!choice) continue;
        if (choice.finish_reason) finished = true;
        const content = choice.delta?.content;
        if (typeof content === "string" && content !== "") {
          if (!gotToken) {
            gotToken = true;
            disarm("first_token");
          }
          yield content;
        }
      }
      // [DONE] or a finish_reason marks a complete answer; llama.cpp builds differ on which they send.
      if (!finished) throw this.badStream("stream ended before the answer was complete");
    } catch (e) {
      if (timedOut) {
        const ms = timedOut === "connect" ? cfg.connect_timeout_ms : timedOut === "first_token" ? cfg.first_token_timeout_ms : cfg.timeout_ms;
        throw new KefuError("llm_timeout", 504, `llm provider "${this.name}" timed out (${timedOut}, ${ms} ms)`, {
          provider: this.name,
          phase: timedOut,
          timeout_ms: ms,
        });
      }
      if (signal?.aborted) throw this.aborted();
      if (e instanceof KefuError) throw e;
      if (e instanceof SseTooLargeError) throw this.badStream(e.message);
      // A reset in the middle of the body surfaces here as a plain network error.
      throw this.badStream(`stream failed: ${errText(e)}`);
    } finally {
      for (const timer of Object.values(timers)) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      // Reached early when the consumer stops iterating: cancel the upstream so the provider stops generating.
      ctrl.abort();
    }
  }

  /** The whole answer as one string (non-streaming callers such as the off-hours batch). */
  async complete(messages: ChatMessage[], opts: ChatOptions = {}): Promise<string> {
    let text = "";
    for await (const delta of this.stream(messages, opts)) text += delta;
    return text;
  }

  private aborted() {
    return new KefuError("llm_aborted", 499, `llm request to "${this.name}" was cancelled`, { provider: this.name });
  }

  private badStream(reason: string) {
    return new KefuError("llm_bad_stream", 502, `llm provider "${this.name}" sent a bad stream: ${reason}`, {
      provider: this.name,
      reason,
    });
  }

  private httpError(status: number, body: string, retryAfter: string | null) {
    let message = body.slice(0, ERROR_BODY_CHARS);
    try {
      const json = JSON.parse(body) as ChunkJson;
      const err = json.error;
      if (typeof err === "string") message = err;
      else if (err && typeof err.message === "string") message = err.message;
    } catch {
      // Not JSON (an HTML page from a proxy): keep the raw snippet.
    }
    return new KefuError("llm_http_error", 502, `llm provider "${this.name}" answered HTTP ${status}: ${message}`, {
      provider: this.name,
      status,
      ...(retryAfter ? { retry_after: retryAfter } : {}),
    });
  }

  private throwIfErrorObject(json: ChunkJson) {
    if (!json || typeof json !== "object" || json.error === undefined) return;
    const err = json.error;
    const message = typeof err === "string" ? err : typeof err?.message === "string" ? err.message : JSON.stringify(err);
    throw new KefuError("llm_http_error", 502, `llm provider "${this.name}" reported an error: ${message}`, {
      provider: this.name,
      status: 200,
      in_stream: true,
    });
  }
}

/**
 * Whether an error says something about the provider's health (breaker, adaptive limit) rather than
 * about this one request: caller aborts and request-specific 4xx answers (e.g. context too long) do not.
 */
export function isProviderFault(err: unknown): boolean {
  if (!(err instanceof KefuError)) return true;
  if (err.code === "llm_aborted") return false;
  if (err.code === "llm_http_error") {
    const status = (err.details as { status?: number } | undefined)?.status ?? 0;
    return !(status >= 400 && status < 500) || [401, 403, 404, 408, 429].includes(status);
  }
  return true;
}

function pick<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
