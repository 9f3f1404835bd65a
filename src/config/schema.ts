import { isIP } from "node:net";
import { Type as t, type Static } from "@sinclair/typebox";
import { answerSection } from "../answer/config";
import { chatSection } from "../chat/config";
import { kbSection } from "../kb/config";
import { llmSection } from "../llm/config";
import { backupSection, retentionSection } from "../ops/config";
import { modelsSection } from "../models/config";
import { metricsSection } from "../ops/metrics/config";
import { hoursSection } from "../schedule/config";
import { badOrigin } from "../server/origins";
import { authSection, clusterSection, logSection, pluginsSection, serverSection, storageSection } from "./sections";

/**
 * The whole config file. Features add their section here (one line each); the
 * loader, the env overrides, `kefu init` and docs/config.md all walk this schema.
 */
export const configSchema = t.Object(
  {
    server: serverSection,
    storage: storageSection,
    cluster: clusterSection,
    log: logSection,
    auth: authSection,
    plugins: pluginsSection,
    kb: kbSection,
    chat: chatSection,
    llm: llmSection,
    hours: hoursSection,
    answer: answerSection,
    backup: backupSection,
    retention: retentionSection,
    metrics: metricsSection,
    models: modelsSection,
  },
  { additionalProperties: false },
);

export type KefuConfig = Static<typeof configSchema>;

/** Rules across keys, checked after each key is valid on its own. Each returns an error message or null. */
export const configChecks: ((c: KefuConfig) => string | null)[] = [
  (c) => (c.storage.driver === "postgres" && !/^postgres(ql)?:\/\//.test(c.storage.url) ? `config key storage.url must be a postgres:// URL when storage.driver = "postgres" (got ${c.storage.url ? "something else" : "nothing"}); set it or KEFU_STORAGE_URL` : null),
  (c) => (c.cluster.bus === "redis" && !/^rediss?:\/\//.test(c.cluster.url) ? `config key cluster.url must be a redis:// URL when cluster.bus = "redis"; set it or KEFU_CLUSTER_URL` : null),
  (c) => (c.cluster.bus === "redis" && c.storage.driver !== "postgres" ? `config key cluster.bus = "redis" needs storage.driver = "postgres": nodes sharing a bus must share their data (docs/cluster.md)` : null),
  (c) => (c.kb.suggest <= c.kb.direct ? null : `config key kb.suggest = ${c.kb.suggest} is invalid: it must not exceed kb.direct (${c.kb.direct})`),
  (c) => (c.kb.chunk_overlap < c.kb.chunk_size ? null : `config key kb.chunk_overlap = ${c.kb.chunk_overlap} is invalid: it must be smaller than kb.chunk_size (${c.kb.chunk_size})`),
  (c) => {
    const bad = badOrigin(c.server.allowed_origins);
    return bad === null ? null : `config key server.allowed_origins has ${JSON.stringify(bad)}: each entry must be "*" or scheme://host[:port], e.g. "https://shop.example.com"`;
  },
  (c) => {
    for (const p of c.server.trusted_proxies) {
      const [addr, bits] = p.split("/");
      if (isIP(addr!) === 0 || (bits !== undefined && (isIP(addr!) !== 4 || !/^\d{1,2}$/.test(bits) || Number(bits) > 32))) {
        return `config key server.trusted_proxies has ${JSON.stringify(p)}: each entry must be an IP address or an IPv4 CIDR range such as 10.0.0.0/8`;
      }
    }
    return null;
  },
];
