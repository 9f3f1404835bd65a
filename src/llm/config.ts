import { type Static, Type as t } from "@sinclair/typebox";
import { KefuError } from "../errors/kefu-error";

/**
 * `[llm]` config section and `[[llm.providers]]` entries. Keys are flat because the config loader
 * merges defaults one key deep; provider entries are filled by `resolveProviderConfig`.
 */

export const DEFAULT_SYSTEM_PROMPT =
  "You are the customer-service assistant of this website. Be brief, friendly and precise.";

export const DEFAULT_GUARDRAILS = [
  "Answer only from the context below. Do not use outside knowledge and never invent facts, prices, links or policies.",
  "If the context does not contain the answer, or you are unsure, say so plainly and offer to connect the visitor with a human agent.",
  "Reply in the same language as the visitor's last message.",
  "When you use a context passage, cite its id exactly as given in square brackets, e.g. [q-3f9a0c1d2e4b5a67].",
];

const providerSchema = t.Object(
  {
    name: t.String({ minLength: 1, description: "Unique name, shown in status and logs." }),
    base_url: t.String({ minLength: 1, description: "OpenAI-compatible base URL, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1." }),
    model: t.String({ minLength: 1, description: "Model name sent upstream." }),
    api_key: t.Optional(t.String({ description: "API key (prefer api_key_env)." })),
    api_key_env: t.Optional(t.String({ description: "Name of the environment variable holding the API key." })),
    timeout_ms: t.Optional(t.Integer({ minimum: 100, maximum: 600000, description: "Whole request, first byte to last token. Default 60000." })),
    connect_timeout_ms: t.Optional(t.Integer({ minimum: 10, maximum: 600000, description: "Until response headers. Default 10000." })),
    first_token_timeout_ms: t.Optional(t.Integer({ minimum: 10, maximum: 600000, description: "Until the first text token. Default 30000." })),
    max_concurrency: t.Optional(
      t.Integer({ minimum: 1, maximum: 10000, description: "Most calls in flight (upper bound of the adaptive limit). Default 128: hosted APIs limit requests and tokens per minute rather than parallel calls (Bun sends at most 256 requests at once per process: keep the sum of all providers' under it)." }),
    ),
    min_concurrency: t.Optional(t.Integer({ minimum: 1, maximum: 10000, description: "Lower bound of the adaptive limit. Default 1." })),
    initial_concurrency: t.Optional(
      t.Integer({
        minimum: 1,
        maximum: 10000,
        description:
          "Where the adaptive limit starts. Default 32 (within min and max). Until the provider first shows strain (an error, a timeout, a first token slower than limit_latency_ms) the limit grows by one per good call while it is in use, up to max_concurrency; after that slowly, and it shrinks by limit_backoff on each sign of strain.",
      }),
    ),
    priority: t.Optional(t.Integer({ description: "Lower is tried first; ties keep config order. Default 100." })),
    temperature: t.Optional(t.Number({ minimum: 0, maximum: 2, description: "Sampling temperature sent upstream (provider default when unset)." })),
    max_tokens: t.Optional(t.Integer({ minimum: 1, description: "Longest answer in tokens (provider default when unset)." })),
  },
  { additionalProperties: false },
);

export type ProviderConfigInput = Static<typeof providerSchema>;

export const llmSection = t.Object(
  {
    providers: t.Array(providerSchema, {
      default: [],
      description: "OpenAI-compatible chat-completion providers ([[llm.providers]]). None by default: without a provider, questions the knowledge base cannot answer get suggestions or an offer of a human.",
      examples: [[{ name: "deepseek", base_url: "https://api.deepseek.com/v1", model: "deepseek-chat", api_key_env: "DEEPSEEK_API_KEY", max_concurrency: 8, priority: 10 }]],
    }),
    degrade_chain: t.Array(t.String({ minLength: 1 }), {
      default: ["providers", "local", "suggestion"],
      description: 'Order of the answer steps before the busy message: "providers" (all providers not named elsewhere, by priority), a provider name, "local" (local model) or "suggestion" (best knowledge-base entry).',
    }),
    answer_deadline_ms: t.Integer({ default: 8000, minimum: 100, maximum: 600000, description: "Every visitor message gets a first delta or a final answer within this time, whatever the providers do." }),
    queue_timeout_ms: t.Integer({
      default: 2000,
      minimum: 0,
      maximum: 60000,
      description: "Longest wait for a free provider slot before taking the next degrade step (0: never wait); never past the answer deadline less min_attempt_ms.",
    }),
    max_queue: t.Integer({ default: 256, minimum: 0, maximum: 100000, description: "Most requests waiting for a slot per provider; beyond it they take the next degrade step at once." }),
    min_attempt_ms: t.Integer({ default: 150, minimum: 0, maximum: 600000, description: "A provider is skipped when less than this remains before the answer deadline." }),
    breaker_window_ms: t.Integer({ default: 30000, minimum: 100, maximum: 3600000, description: "Sliding window over which the circuit breaker computes the failure rate." }),
    breaker_failure_rate: t.Number({ default: 0.5, minimum: 0.01, maximum: 1, description: "Failure share in the window that opens the breaker." }),
    breaker_min_requests: t.Integer({ default: 5, minimum: 1, maximum: 100000, description: "Calls needed in the window before the failure rate can open the breaker." }),
    breaker_open_ms: t.Integer({ default: 15000, minimum: 10, maximum: 3600000, description: "How long an open breaker rejects calls before letting probes through." }),
    breaker_half_open_probes: t.Integer({ default: 1, minimum: 1, maximum: 1000, description: "Probe calls allowed while half-open; all must succeed to close the breaker." }),
    limit_latency_ms: t.Integer({ default: 5000, minimum: 1, maximum: 600000, description: "Time to first token above which a call counts as congestion and lowers the adaptive limit." }),
    limit_backoff: t.Number({ default: 0.75, minimum: 0.1, maximum: 0.99, description: "Factor applied to the adaptive limit on an error, timeout or congestion signal." }),
    system_prompt: t.String({ default: DEFAULT_SYSTEM_PROMPT, description: "System prompt put before the guardrails." }),
    guardrails: t.Array(t.String(), { default: DEFAULT_GUARDRAILS, description: "Rules appended to the system prompt, one sentence each." }),
    history_turns: t.Integer({ default: 6, minimum: 0, maximum: 100, description: "Earlier conversation messages sent with each question." }),
    history_max_chars: t.Integer({ default: 4000, minimum: 0, maximum: 1000000, description: "Character budget of the history window (oldest dropped first)." }),
    context_max_chars: t.Integer({ default: 6000, minimum: 100, maximum: 1000000, description: "Character budget of the knowledge context (lowest-ranked dropped first)." }),
  },
  { additionalProperties: false, description: "LLM providers, flow control and prompt." },
);

export type LlmConfig = Static<typeof llmSection>;

export interface ProviderConfig {
  name: string;
  base_url: string;
  model: string;
  api_key?: string;
  api_key_env?: string;
  timeout_ms: number;
  connect_timeout_ms: number;
  first_token_timeout_ms: number;
  max_concurrency: number;
  min_concurrency: number;
  initial_concurrency: number;
  priority: number;
  temperature?: number;
  max_tokens?: number;
}

export const PROVIDER_DEFAULTS = {
  timeout_ms: 60000,
  connect_timeout_ms: 10000,
  first_token_timeout_ms: 30000,
  max_concurrency: 128,
  min_concurrency: 1,
  priority: 100,
} as const;

/** Where the adaptive limit starts unless a provider says otherwise (clamped to its min and max). */
export const INITIAL_CONCURRENCY = 32;

/** Fills provider defaults and checks what the schema cannot (cross-field rules). */
export function resolveProviderConfig(input: ProviderConfigInput): ProviderConfig {
  const given = stripUndefined(input);
  const merged = { ...PROVIDER_DEFAULTS, ...given };
  const initial = given.initial_concurrency ?? Math.min(merged.max_concurrency, Math.max(merged.min_concurrency, INITIAL_CONCURRENCY));
  const out: ProviderConfig = { ...merged, initial_concurrency: initial };
  const bad = (msg: string) => new KefuError("config_invalid", 500, `llm provider "${out.name}": ${msg}`);
  if (out.min_concurrency > out.max_concurrency) throw bad("min_concurrency must not exceed max_concurrency");
  if (out.initial_concurrency < out.min_concurrency || out.initial_concurrency > out.max_concurrency) {
    throw bad("initial_concurrency must be between min_concurrency and max_concurrency");
  }
  if (out.api_key !== undefined && out.api_key_env !== undefined) throw bad("set api_key or api_key_env, not both");
  try {
    const url = new URL(out.base_url);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
  } catch {
    throw bad(`base_url ${JSON.stringify(out.base_url)} is not an http(s) URL`);
  }
  return out;
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
