import type { Sql } from "../storage/sql";
import type { ChatService } from "../chat/service";
import { createConversationStore } from "../chat/conversation-store";
import { createVisitorStore } from "../chat/visitor-store";
import type { KnowledgeBase } from "../kb/engine";
import type { PluginServices } from "./host";

/** What plugins may use of kefu: knowledge-base search, posting into a conversation, who they talk to. */
export function pluginServices(sql: Sql, kb: KnowledgeBase, chat: ChatService): PluginServices {
  const convs = createConversationStore(sql);
  const visitors = createVisitorStore(sql);
  return {
    kbSearch: kbSearchOf(kb),
    send: async (conversationId, text) => (await chat.postBotMessage(conversationId, text, undefined, { alongside: true })) !== null,
    async lookup(conversationId) {
      const c = await convs.get(conversationId);
      if (!c) return { conversation: null, visitor: null };
      const id = await visitors.identity(c.visitorId);
      return {
        conversation: { id: c.id, state: c.state, lang: c.lang },
        visitor: { id: c.visitorId, name: id?.name ?? null, email: id?.email ?? null, external_id: id?.externalId ?? null, verified: id?.verified ?? false },
      };
    },
  };
}

/** Knowledge-base search as plugins see it (ctx.kb.search). */
export function kbSearchOf(kb: KnowledgeBase): PluginServices["kbSearch"] {
  return async (query, k) => (await kb.search(query, { k })).matches.map((m) => ({ id: m.id, question: m.question, answer: m.answer, confidence: m.confidence }));
}
