import { resolve } from "node:path";
import { type ConversationLifecycle, topics } from "../chat/service";
import type { KefuConfig } from "../config/schema";
import type { KnowledgeBase } from "../kb/engine";
import type { Logger } from "../log/logger";
import type { Sql } from "../storage/sql";
import type { AppContext } from "../server/context";
import { createPluginHost, type PluginHost } from "./host";
import { kbSearchOf, pluginServices } from "./services";

/** The `[plugins]` keys that are settings of the host; every other key is a plugin's own `[plugins.<name>]` table. */
const HOST_KEYS = new Set(["dir", "hook_timeout_ms", "route_timeout_ms", "fetch_timeout_ms", "max_consecutive_errors", "order", "watch", "poll_ms", "public_route_burst", "public_route_per_minute"]);

/** The plugin host for a config; nothing is loaded until `startPlugins`. */
export function createPlugins(config: KefuConfig, baseDir: string, sql: Sql, log: Logger): PluginHost {
  const c = config.plugins;
  const configs = Object.fromEntries(Object.entries(c).filter(([k]) => !HOST_KEYS.has(k)));
  return createPluginHost({
    dir: resolve(baseDir, c.dir),
    sql,
    log,
    hookTimeoutMs: c.hook_timeout_ms,
    routeTimeoutMs: c.route_timeout_ms,
    fetchTimeoutMs: c.fetch_timeout_ms,
    maxConsecutiveErrors: c.max_consecutive_errors,
    order: c.order,
    configs,
    watch: c.watch,
    pollMs: c.poll_ms,
    maxTextChars: config.chat.max_text_chars,
  });
}

/** Loads the plugins once the features they use exist, and stops them on shutdown. */
export async function startPlugins(ctx: AppContext): Promise<void> {
  ctx.lifecycle.onShutdown("plugins", () => ctx.plugins.stop());
  const unsubscribe = ctx.bus.subscribe<ConversationLifecycle>(topics.lifecycle, (e) => ctx.plugins.onConversation(e));
  ctx.lifecycle.onShutdown("plugins-events", unsubscribe, "connections");
  await ctx.plugins.start(pluginServices(ctx.sql, ctx.kb, ctx.chat));
}

/** Plugins for a one-off command (`kefu ask`): loaded once, not watched, no chat to post into. */
export async function startPluginsOnce(config: KefuConfig, baseDir: string, sql: Sql, log: Logger, kb: KnowledgeBase): Promise<PluginHost> {
  const host = createPlugins({ ...config, plugins: { ...config.plugins, watch: false } }, baseDir, sql, log);
  await host.start({
    kbSearch: kbSearchOf(kb),
    send: () => false,
    lookup: () => ({ conversation: null, visitor: null }),
  });
  return host;
}
