import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "../log/logger";

/** What a plugin's onMessage hook sees. */
export interface PluginMessage {
  text: string;
  lang: "zh" | "en";
  conversationId?: string;
  visitorId?: string;
}

/** Answer, hand off, or return nothing to let kefu continue. */
export type PluginVerdict = { reply: string } | { handoff: true } | undefined | void;

export interface KefuPlugin {
  name: string;
  onMessage?(message: PluginMessage): PluginVerdict | Promise<PluginVerdict>;
}

export interface LoadedPlugins {
  list: { name: string; file: string }[];
  /** Runs onMessage hooks in file order; the first verdict wins. A slow or throwing plugin is skipped. */
  onMessage(message: PluginMessage): Promise<{ plugin: string; verdict: NonNullable<PluginVerdict> } | null>;
}

export interface PluginOptions {
  /** Directory to load from (e.g. <config dir>/plugins). */
  dir: string;
  /** A hook that takes longer is ignored for that message. Default 1000 ms. */
  hookTimeoutMs?: number;
  log: Logger;
}

function isPlugin(x: unknown): x is KefuPlugin {
  return !!x && typeof x === "object" && typeof (x as KefuPlugin).name === "string" && (!("onMessage" in x) || typeof (x as KefuPlugin).onMessage === "function");
}

/**
 * Loads `*.ts` / `*.js` files from the plugins directory at start-up. Works in the
 * compiled binary too (Bun transpiles the file on import). A file that fails to load
 * is logged and skipped; it never stops kefu.
 */
export async function loadPlugins(opts: PluginOptions): Promise<LoadedPlugins> {
  const dir = resolve(opts.dir);
  const timeout = opts.hookTimeoutMs ?? 1000;
  const plugins: { plugin: KefuPlugin; file: string }[] = [];
  if (existsSync(dir)) {
    const files = readdirSync(dir).filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.endsWith(".d.ts") && !f.includes(".test.")).sort();
    for (const f of files) {
      const file = join(dir, f);
      try {
        const mod = await import(file);
        const plugin = mod.default ?? mod.plugin;
        if (!isPlugin(plugin)) throw new Error("default export must be an object with a string `name` and optional hook functions");
        plugins.push({ plugin, file });
        opts.log.info("plugin loaded", { plugin: plugin.name, file });
      } catch (err) {
        opts.log.error("plugin failed to load; skipped", { file, err: (err as Error).message });
      }
    }
  }
  return {
    list: plugins.map((p) => ({ name: p.plugin.name, file: p.file })),
    async onMessage(message) {
      for (const { plugin } of plugins) {
        if (!plugin.onMessage) continue;
        let timer: Timer | undefined;
        try {
          const verdict = await Promise.race([
            Promise.resolve(plugin.onMessage(message)),
            new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeout))),
          ]);
          if (verdict === "timeout") {
            opts.log.warn("plugin hook timed out; skipped", { plugin: plugin.name, timeout_ms: timeout });
            continue;
          }
          if (verdict && (("reply" in verdict && typeof verdict.reply === "string") || ("handoff" in verdict && verdict.handoff === true))) {
            return { plugin: plugin.name, verdict };
          }
        } catch (err) {
          opts.log.error("plugin hook failed; skipped", { plugin: plugin.name, err: (err as Error).message });
        } finally {
          clearTimeout(timer);
        }
      }
      return null;
    },
  };
}
