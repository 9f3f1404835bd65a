import { Type as t, type Static } from "@sinclair/typebox";
import { answerSection } from "../answer/config";
import { chatSection } from "../chat/config";
import { kbSection } from "../kb/config";
import { llmSection } from "../llm/config";
import { hoursSection } from "../schedule/config";
import { authSection, logSection, pluginsSection, serverSection, storageSection } from "./sections";

/**
 * The whole config file. Features add their section here (one line each); the
 * loader, the env overrides, `kefu init` and docs/config.md all walk this schema.
 */
export const configSchema = t.Object(
  {
    server: serverSection,
    storage: storageSection,
    log: logSection,
    auth: authSection,
    plugins: pluginsSection,
    kb: kbSection,
    chat: chatSection,
    llm: llmSection,
    hours: hoursSection,
    answer: answerSection,
  },
  { additionalProperties: false },
);

export type KefuConfig = Static<typeof configSchema>;

/** Rules across keys, checked after each key is valid on its own. Each returns an error message or null. */
export const configChecks: ((c: KefuConfig) => string | null)[] = [
  (c) => (c.kb.suggest <= c.kb.direct ? null : `config key kb.suggest = ${c.kb.suggest} is invalid: it must not exceed kb.direct (${c.kb.direct})`),
  (c) => (c.kb.chunk_overlap < c.kb.chunk_size ? null : `config key kb.chunk_overlap = ${c.kb.chunk_overlap} is invalid: it must be smaller than kb.chunk_size (${c.kb.chunk_size})`),
];
