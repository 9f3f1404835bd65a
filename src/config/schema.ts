import { Type as t, type Static } from "@sinclair/typebox";
import { answerSection } from "../answer/config";
import { chatSection } from "../chat/config";
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
    chat: chatSection,
    llm: llmSection,
    hours: hoursSection,
    answer: answerSection,
  },
  { additionalProperties: false },
);

export type KefuConfig = Static<typeof configSchema>;
