import type { LlmConfig } from "./config";
import type { ChatMessage } from "./openai-client";

/**
 * Builds the chat messages for a grounded answer: system prompt + guardrails + the knowledge context
 * (each passage labelled with the id the model must cite), a window of earlier conversation, and the
 * question. Budgets are in characters, which is what the operator can reason about across languages.
 */

export interface GroundingItem {
  /** Id the model cites and the answer lists as a source, e.g. "q-3f9a0c1d2e4b5a67" (entry) or "handbook#2" (chunk). */
  id: string;
  kind: "entry" | "chunk";
  /** Entry question or document title. */
  title?: string;
  /** Entry answer or chunk text. */
  text: string;
}

export interface HistoryMessage {
  role: "visitor" | "bot" | "agent";
  text: string;
}

export type PromptConfig = Pick<LlmConfig, "system_prompt" | "guardrails" | "history_turns" | "history_max_chars" | "context_max_chars">;

export interface PromptInput {
  question: string;
  /** Ranked best first; the lowest-ranked are dropped when over `context_max_chars`. */
  context: GroundingItem[];
  /** Earlier messages of the conversation, oldest first, without the current question. */
  history?: HistoryMessage[];
  /** Visitor language (BCP 47, e.g. "zh-CN") when known; otherwise the model follows the question's language. */
  lang?: string;
}

export interface BuiltPrompt {
  messages: ChatMessage[];
  /** Ids of the passages actually sent, best first: the answer's candidate sources. */
  sources: string[];
}

const OPEN = "<context>";
const CLOSE = "</context>";

export function buildPrompt(cfg: PromptConfig, input: PromptInput): BuiltPrompt {
  const { items, sources } = fitContext(input.context, cfg.context_max_chars);
  const parts = [cfg.system_prompt.trim()];
  const rules = cfg.guardrails.map((g) => g.trim()).filter((g) => g !== "");
  if (rules.length > 0) parts.push(`Rules:\n${rules.map((r) => `- ${r}`).join("\n")}`);
  if (input.lang) parts.push(`The visitor's language is ${input.lang}.`);
  parts.push(
    items.length > 0
      ? `Context passages, each starting with its id in square brackets:\n${OPEN}\n${items.join("\n\n")}\n${CLOSE}`
      : `${OPEN}\n(no relevant passages found)\n${CLOSE}`,
  );
  const messages: ChatMessage[] = [{ role: "system", content: parts.join("\n\n") }];
  for (const h of historyWindow(input.history ?? [], cfg.history_turns, cfg.history_max_chars)) {
    messages.push({ role: h.role === "visitor" ? "user" : "assistant", content: h.text });
  }
  messages.push({ role: "user", content: input.question });
  return { messages, sources };
}

function fitContext(context: GroundingItem[], budget: number): { items: string[]; sources: string[] } {
  const items: string[] = [];
  const sources: string[] = [];
  let used = 0;
  for (const item of context) {
    let text = format(item);
    if (used + text.length > budget) {
      // The best passage is worth sending cut rather than not at all; later ones are simply dropped.
      if (items.length > 0) break;
      text = `${text.slice(0, Math.max(0, budget - 1))}…`;
    }
    items.push(text);
    sources.push(item.id);
    used += text.length + 2;
  }
  return { items, sources };
}

function format(item: GroundingItem): string {
  const body = item.kind === "entry" && item.title ? `Q: ${item.title}\nA: ${item.text}` : item.title ? `(${item.title}) ${item.text}` : item.text;
  // A passage must not be able to close the context block and speak as instructions.
  return `[${item.id}] ${body.replaceAll(CLOSE, "").replaceAll(OPEN, "")}`;
}

/** The last `turns` messages that fit in `maxChars`, dropping the oldest first. */
export function historyWindow(history: HistoryMessage[], turns: number, maxChars: number): HistoryMessage[] {
  const out: HistoryMessage[] = [];
  let used = 0;
  for (let i = history.length - 1; i >= 0 && out.length < turns; i--) {
    const h = history[i]!;
    if (h.text.trim() === "") continue;
    if (used + h.text.length > maxChars) break;
    used += h.text.length;
    out.push(h);
  }
  return out.reverse();
}
