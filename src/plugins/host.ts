import type { Sql } from "../storage/sql";
import { type Dirent, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, watch, writeFileSync, type FSWatcher } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createRateLimiter } from "../limits/rate-limit";
import { LatencyWindow, type Percentiles } from "../llm/latency-window";
import type { Logger } from "../log/logger";
import { bundlePlugin } from "./bundle";
import { checkConfig, type ConfigSchema } from "./config-schema";
import { createKvStore, type KvStore } from "./kv-store";

/**
 * The plugin host: finds plugins in `plugins/`, runs each one in a Worker of its own, reloads them when
 * their files change, and calls their hooks with a timeout, counters and an error budget.
 *
 * Why a worker per plugin (docs/plugins.md has the numbers): a plugin that loops synchronously on the
 * main thread stops every visitor; in a worker it only delays its own hooks, which time out. A reload
 * is a new worker, and the old one is terminated once its calls in flight are done: modules never unload
 * in Bun, a terminated worker does, so memory stays flat over many reloads.
 *
 * A version's life: bundle (Bun.build: the plugin, its imports, kefu/plugin and the worker runtime in one
 * file) → import (a Worker runs the file) → validate (shape, name, config section against the plugin's
 * schema) → setup → it replaces the previous version. A failure at any stage keeps the previous version.
 */

export type LoadStage = "bundle" | "import" | "validate" | "setup" | "run";
export type PluginStatus = "loading" | "active" | "failed" | "disabled" | "auto_disabled";
export type Lang = "zh" | "en";
export interface PluginSource {
  id: string;
  title?: string;
  url?: string;
}

/** What the rest of kefu lends plugins; attached once the features exist (`start`). */
export interface PluginServices {
  kbSearch(query: string, k: number): Promise<{ id: string; question: string; answer: string; confidence: number }[]>;
  /** Posts a bot message into a conversation; false when it does not take one (closed, with an agent). */
  send(conversationId: string, text: string): Promise<boolean> | boolean;
  /** The conversation and visitor of a chat message (verified identity included). */
  lookup(
    conversationId: string,
  ): Promise<{ conversation: { id: string; state: string; lang: Lang } | null; visitor: Record<string, unknown> | null }> | { conversation: { id: string; state: string; lang: Lang } | null; visitor: Record<string, unknown> | null };
}

export interface PluginHostOptions {
  dir: string;
  /** The shared store (the plugins' key/value table). */
  sql: Sql;
  log: Logger;
  hookTimeoutMs: number;
  routeTimeoutMs?: number;
  fetchTimeoutMs?: number;
  /** Import and setup each get this long. Default 5000 ms. */
  loadTimeoutMs?: number;
  /** Auto-disable after this many errors in a row (0: never). */
  maxConsecutiveErrors?: number;
  /** Plugin names called first, in this order; the others follow by file name. */
  order?: string[];
  /** `[plugins.<name>]` sections. */
  configs?: Record<string, unknown>;
  /** Watch the directory (fs.watch plus a periodic check every `pollMs`; 0 turns the check off). */
  watch?: boolean;
  pollMs?: number;
  debounceMs?: number;
  /** The longest text a plugin's answer, rewrite or send() may have (`[chat] max_text_chars`); longer ones are cut. Default 4000. */
  maxTextChars?: number;
}

export interface MessageInput {
  text: string;
  parts?: string[];
  lang: Lang;
  conversationId?: string;
}
export type MessageVerdict = { text: string; choices?: string[]; sources?: PluginSource[] } | { handoff: true; reason?: string };
export interface AnswerInput {
  text: string;
  path: string;
  confidence: number;
  sources: PluginSource[];
  plugin?: string;
}

export interface PluginInfo {
  name: string;
  version: string | null;
  hooks: string[];
  routes: { method: string; path: string; public: boolean }[];
  config_schema: ConfigSchema | null;
}

export interface PluginListing {
  name: string;
  file: string;
  status: PluginStatus;
  version: string | null;
  /** How many versions loaded since start. */
  generation: number;
  loaded_at: string | null;
  hooks: string[];
  routes: { method: string; path: string; public: boolean }[];
  last_error: { stage: LoadStage; message: string; at: string } | null;
  counters: { calls: number; errors: number; timeouts: number; consecutive_errors: number; latency_ms: Percentiles };
}

class HookTimeout extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

type WorkerMsg = { t: string } & Record<string, any>;

/** One loaded version of one plugin: a worker running its bundle. */
class Version {
  readonly worker: Worker;
  info: PluginInfo | null = null;
  inflight = 0;
  dead = false;
  private seq = 0;
  private calls = new Map<number, (m: WorkerMsg) => void>();
  private control: ((m: WorkerMsg) => void) | null = null;
  private retired = false;

  constructor(
    readonly file: string,
    readonly hash: string,
    onHost: (v: Version, m: WorkerMsg) => void,
    onExit: (v: Version) => void,
  ) {
    this.worker = new Worker(file);
    this.worker.onmessage = (e: MessageEvent<WorkerMsg>) => {
      const m = e.data;
      if (m.t === "ret") this.calls.get(m.id)?.(m);
      else if (m.t === "host" || m.t === "log") onHost(this, m);
      else this.control?.(m);
    };
    this.worker.onerror = (e: ErrorEvent) => {
      const message = (e.error as Error | undefined)?.message || e.message || String(e);
      if (this.control) this.control({ t: "failed", stage: "import", message });
      else onHost(this, { t: "log", level: "error", msg: "uncaught error in plugin", fields: { err: message } });
    };
    this.worker.addEventListener("close", () => {
      const wasDead = this.dead;
      this.dead = true;
      for (const done of [...this.calls.values()]) done({ t: "ret", ok: false, error: "the plugin's worker exited" });
      this.control?.({ t: "failed", stage: "import", message: "the plugin's worker exited" });
      if (!wasDead && !this.retired) onExit(this);
    });
  }

  /** Sends a control message and waits for the worker's answer to it. */
  expect(msg: WorkerMsg, timeoutMs: number, stage: LoadStage): Promise<WorkerMsg> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish({ t: "failed", stage, message: `no answer within ${timeoutMs} ms` }), timeoutMs);
      const finish = (m: WorkerMsg) => {
        clearTimeout(timer);
        this.control = null;
        resolve(m);
      };
      this.control = finish;
      this.worker.postMessage(msg);
    });
  }

  call(hook: string, ctx: unknown, args: unknown[], timeoutMs: number): Promise<unknown> {
    if (this.dead) return Promise.reject(new Error("the plugin's worker exited"));
    return new Promise((resolve, reject) => {
      const id = ++this.seq;
      this.inflight++;
      const settle = () => {
        clearTimeout(timer);
        this.calls.delete(id);
        this.inflight--;
        if (this.retired && this.inflight === 0) void this.stop();
      };
      const timer = setTimeout(() => {
        settle();
        reject(new HookTimeout(timeoutMs));
      }, timeoutMs);
      this.calls.set(id, (m) => {
        settle();
        if (m.ok) resolve(m.value);
        else reject(new Error(m.error));
      });
      this.worker.postMessage({ t: "call", id, hook, ctx, args });
    });
  }

  /** No new calls come; once the calls in flight are done, dispose runs and the worker ends. */
  retire(): Promise<void> {
    this.retired = true;
    return this.inflight === 0 ? this.stop() : Promise.resolve();
  }

  private stopping: Promise<void> | null = null;
  stop(disposeMs = 2000): Promise<void> {
    return (this.stopping ??= (async () => {
      if (!this.dead && this.info?.hooks.includes("dispose")) await this.expect({ t: "dispose" }, disposeMs, "run");
      this.kill();
    })());
  }

  kill() {
    this.retired = true;
    this.dead = true;
    this.worker.terminate();
    rmSync(this.file, { force: true });
  }
}

interface Slot {
  /** Absolute entry file (a file, or a folder's index). */
  entry: string;
  /** As listed: the path relative to the plugins directory. */
  file: string;
  name: string;
  current: Version | null;
  /** Hash of the last bundle tried, so an unchanged broken file is not retried on every scan. */
  triedHash: string | null;
  enabled: boolean;
  autoDisabled: boolean;
  loading: boolean;
  generation: number;
  loadedAt: number | null;
  lastError: { stage: LoadStage; message: string; at: number } | null;
  counters: { calls: number; errors: number; timeouts: number; consecutive_errors: number };
  latency: LatencyWindow;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Hook calls take microseconds: latencies are kept in hundredths of a ms (the window rounds to whole units). */
const LATENCY_SCALE = 100;
const unscale = (p: Percentiles): Percentiles => ({ p50: p.p50 / LATENCY_SCALE, p95: p.p95 / LATENCY_SCALE, p99: p.p99 / LATENCY_SCALE, samples: p.samples });
const PLUGIN_FILE = /\.(ts|js|mjs)$/;

/** A directory entry as what it points to: a symlink to a plugin kept elsewhere (a deploy directory) counts as its target. */
function kindOf(dir: string, f: Dirent): "file" | "dir" | null {
  if (f.isFile()) return "file";
  if (f.isDirectory()) return "dir";
  if (!f.isSymbolicLink()) return null;
  try {
    const st = statSync(join(dir, f.name));
    return st.isFile() ? "file" : st.isDirectory() ? "dir" : null;
  } catch {
    return null; // a dangling link
  }
}

/** Plugin entries in the directory: `*.ts|js|mjs` files and folders with an index; `_*`, `.*`, tests and `.d.ts` are not plugins. */
export function discoverPlugins(dir: string): { entry: string; file: string }[] {
  if (!existsSync(dir)) return [];
  const out: { entry: string; file: string }[] = [];
  for (const f of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (f.name.startsWith("_") || f.name.startsWith(".") || f.name === "node_modules") continue;
    const kind = kindOf(dir, f);
    if (kind === "file" && PLUGIN_FILE.test(f.name) && !f.name.endsWith(".d.ts") && !f.name.includes(".test.")) out.push({ entry: join(dir, f.name), file: f.name });
    else if (kind === "dir") {
      const index = ["index.ts", "index.js", "index.mjs"].find((i) => existsSync(join(dir, f.name, i)));
      if (index) out.push({ entry: join(dir, f.name, index), file: `${f.name}/` });
    }
  }
  return out;
}

/** Size and mtime of every file under the directory: what the periodic check compares. */
function signature(dir: string): string {
  if (!existsSync(dir)) return "";
  const parts: string[] = [];
  const walk = (d: string, depth: number) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      if (f.name === "node_modules" || f.name.startsWith(".")) continue;
      const p = join(d, f.name);
      if (kindOf(d, f) === "dir") {
        if (depth < 4) walk(p, depth + 1);
      } else {
        try {
          const s = statSync(p);
          parts.push(`${p}:${s.size}:${s.mtimeMs}`);
        } catch {
          // deleted meanwhile
        }
      }
    }
  };
  walk(dir, 0);
  return parts.sort().join("|");
}

/** `:param` segments of a route pattern against a path's segments; null when it does not match (or an escape is malformed). */
function matchPath(pattern: string, segments: string[]): Record<string, string> | null {
  const pat = pattern.split("/").filter(Boolean);
  if (pat.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (const [i, p] of pat.entries()) {
    if (!p.startsWith(":")) {
      if (p !== segments[i]) return null;
      continue;
    }
    try {
      params[p.slice(1)] = decodeURIComponent(segments[i]!);
    } catch {
      return null;
    }
  }
  return params;
}

/** What a plugin says to a visitor is cut to what any bot message may be; choice labels and source titles shorter. */
const LABEL_CHARS = 200;
/** send() per plugin and conversation: a flow's follow-ups, not a flood (a burst of 10, then one a second). */
const SEND_BURST = 10;
const SEND_PER_SECOND = 1;

/** At most `max` characters (code points, as `[chat] max_text_chars` counts), in time bound by `max`: a 10 MB text is not split into an array. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  if (text.length <= 2 * max) {
    const chars = [...text];
    if (chars.length <= max) return text;
  }
  const cut = text.slice(0, max - 1);
  return (/[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut) + "…";
}

/** A source link the visitor may follow: http(s) only (a javascript: or data: URL is dropped, the source kept). */
function safeLink(url: unknown): string | null {
  if (typeof url !== "string" || url.length > 2000) return null;
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}

const baseName = (file: string) => file.replace(/\/$/, "").replace(PLUGIN_FILE, "");

export function createPluginHost(opts: PluginHostOptions) {
  const dir = resolve(opts.dir);
  const log = opts.log.child({ feature: "plugins" });
  const loadMs = opts.loadTimeoutMs ?? 5000;
  const routeMs = opts.routeTimeoutMs ?? 10_000;
  const maxErrors = opts.maxConsecutiveErrors ?? 5;
  const order = opts.order ?? [];
  const maxText = opts.maxTextChars ?? 4000;
  const sendLimit = createRateLimiter({ burst: SEND_BURST, perSecond: SEND_PER_SECOND, maxKeys: 10_000 });
  let sendRefusalLogged = 0;
  const kv: KvStore = createKvStore(opts.sql);
  /** Plugins an admin disabled, kept in the store under a name no plugin can have, so a restart keeps them off. */
  const HOST_KV = "_host";
  const disabledKey = (name: string) => `disabled:${name}`;
  const slots = new Map<string, Slot>();
  let services: PluginServices | null = null;
  let workDir: string | null = null;
  let bundleSeq = 0;
  let stopped = false;
  let watcher: FSWatcher | null = null;
  let poll: Timer | null = null;
  let debounce: Timer | null = null;
  let lastSignature = "";
  /** Scans run one after another. */
  let chain: Promise<void> = Promise.resolve();

  const active = (s: Slot) => !!s.current && s.enabled && !s.autoDisabled && !s.current.dead;
  const ordered = () =>
    [...slots.values()].filter(active).sort((a, b) => {
      const ia = order.indexOf(a.name);
      const ib = order.indexOf(b.name);
      return (ia < 0 ? order.length : ia) - (ib < 0 ? order.length : ib) || (a.file < b.file ? -1 : 1);
    });

  function statusOf(s: Slot): PluginStatus {
    if (!s.enabled) return "disabled";
    if (s.autoDisabled) return "auto_disabled";
    if (s.current && !s.current.dead) return "active";
    return s.loading ? "loading" : "failed";
  }

  function fail(s: Slot, stage: LoadStage, message: string) {
    s.lastError = { stage, message, at: Date.now() };
    const what = stage === "run" ? "plugin failed while running" : s.current ? "plugin failed to load; the previous version keeps running" : "plugin failed to load";
    log.error(what, { plugin: s.name, file: s.file, stage, err: message });
  }

  function onHost(s: Slot, v: Version, m: WorkerMsg) {
    if (m.t === "log") {
      const level = (["debug", "info", "warn", "error"].includes(m.level) ? m.level : "info") as "debug" | "info" | "warn" | "error";
      // The plugin's own fields first: `plugin` always names the plugin that wrote the line.
      log[level](String(m.msg), { ...(m.fields && typeof m.fields === "object" ? m.fields : {}), plugin: v.info?.name ?? s.name });
      return;
    }
    const name = v.info?.name ?? s.name;
    const reply = (ok: boolean, value: unknown) => {
      if (!v.dead) v.worker.postMessage(ok ? { t: "host-ret", id: m.id, ok, value } : { t: "host-ret", id: m.id, ok, error: String((value as Error)?.message ?? value) });
    };
    const args = Array.isArray(m.args) ? m.args : [];
    Promise.resolve()
      .then(() => {
        switch (m.op) {
          case "kv.get":
            return kv.get(name, args[0]);
          case "kv.set":
            return kv.set(name, args[0], args[1], typeof args[2] === "number" ? args[2] : null);
          case "kv.delete":
            return kv.delete(name, args[0]);
          case "kv.list":
            return kv.list(name, args[0], args[1]);
          case "kb.search":
            if (!services) throw new Error("the knowledge base is not ready yet");
            return services.kbSearch(String(args[0] ?? ""), Math.max(1, Math.min(20, Number(args[1]) || 5)));
          case "send": {
            if (!services) throw new Error("the chat is not ready yet");
            if (typeof args[0] !== "string" || typeof args[1] !== "string" || args[1].trim() === "") return false;
            if (!sendLimit.take(`${name}\n${args[0]}`)) {
              // One line a second at most: a flood of refusals must not become a flood of log lines.
              if (Date.now() - sendRefusalLogged > 1000) {
                sendRefusalLogged = Date.now();
                log.warn("plugin send() refused: too many messages to one conversation", { plugin: name, conversation_id: args[0], burst: SEND_BURST, per_second: SEND_PER_SECOND });
              }
              return false;
            }
            return services.send(args[0], clip(args[1], maxText));
          }
          default:
            throw new Error(`unknown host call ${m.op}`);
        }
      })
      .then(
        (value) => reply(true, value ?? null),
        (err) => reply(false, err),
      );
  }

  /**
   * The worker died (an uncaught error in a timer, process.exit): it counts as an error in a row and is
   * restarted from its file, sooner the first times (100 ms, doubling), until the error budget is spent.
   */
  function onExit(s: Slot, v: Version) {
    if (s.current !== v || stopped) return;
    s.current = null;
    s.counters.errors++;
    const inRow = ++s.counters.consecutive_errors;
    if (maxErrors > 0 && inRow >= maxErrors) {
      s.autoDisabled = true;
      fail(s, "run", `the plugin's worker exited ${inRow} times in a row; disabled until its file changes or an admin enables it`);
      return;
    }
    fail(s, "run", "the plugin's worker exited; restarting it");
    s.triedHash = null;
    setTimeout(() => void enqueue(() => load(s, true, true)), Math.min(30_000, 100 * 2 ** (inRow - 1))).unref?.();
  }

  function slotFor(entry: string, file: string): Slot {
    let s = slots.get(entry);
    if (!s) {
      s = {
        entry,
        file,
        name: baseName(file),
        current: null,
        triedHash: null,
        enabled: true,
        autoDisabled: false,
        loading: false,
        generation: 0,
        loadedAt: null,
        lastError: null,
        counters: { calls: 0, errors: 0, timeouts: 0, consecutive_errors: 0 },
        latency: new LatencyWindow(),
      };
      slots.set(entry, s);
    }
    return s;
  }

  /** Bundle, import, validate, setup, swap. Never throws; a failure keeps the running version. `restart`: after a crash (errors in a row kept). */
  async function load(s: Slot, force: boolean, restart = false): Promise<void> {
    if (stopped || !s.enabled) return;
    s.loading = true;
    let v: Version | null = null;
    try {
      const b = await bundlePlugin(s.entry);
      if (!b.ok) {
        if (b.message.includes("File not found") && !existsSync(s.entry)) return; // deleted meanwhile: the next scan unloads it
        if (force || s.triedHash !== `error:${b.message}`) fail(s, "bundle", b.message);
        s.triedHash = `error:${b.message}`;
        return;
      }
      if (!force && s.current && s.current.hash === b.hash && !s.autoDisabled) {
        // Back to the running version (a broken edit undone): nothing to load, nothing wrong any more.
        if (s.lastError && s.lastError.stage !== "run") s.lastError = null;
        s.triedHash = b.hash;
        return;
      }
      if (!force && s.triedHash === b.hash) return;
      s.triedHash = b.hash;
      workDir ??= mkdtempSync(join(tmpdir(), "kefu-plugins-"));
      // A temp cleaner may have removed it on a server that ran for days without a reload.
      mkdirSync(workDir, { recursive: true });
      const file = join(workDir, `${baseName(s.file).replace(/[^\w-]/g, "_")}-${++bundleSeq}.js`);
      writeFileSync(file, b.code);
      v = new Version(
        file,
        b.hash,
        (ver, m) => onHost(s, ver, m),
        (ver) => onExit(s, ver),
      );
      const generation = s.generation + 1;
      const loaded = await v.expect({ t: "init", version: String(generation), fetch_timeout_ms: opts.fetchTimeoutMs ?? 5000 }, loadMs, "import");
      if (loaded.t !== "loaded") return reject(v, s, loaded.stage ?? "import", loaded.message);
      const info = loaded.info as PluginInfo;
      if (!NAME.test(info.name)) return reject(v, s, "validate", `name ${JSON.stringify(info.name)} must be lower-case letters, digits and dashes (at most 63)`);
      if ((await kv.get(HOST_KV, disabledKey(info.name))) === true) {
        // Disabled by an admin (before a restart): known by name, not set up. A running version (the file
        // renamed its plugin to the disabled name) stops too: the slot is off.
        v.kill();
        s.name = info.name;
        s.enabled = false;
        const old = s.current;
        s.current = null;
        if (old) void old.retire();
        return;
      }
      const clash = [...slots.values()].find((o) => o !== s && o.name === info.name && o.current);
      if (clash) return reject(v, s, "validate", `another plugin (${clash.file}) is already named ${info.name}`);
      let config: unknown = opts.configs?.[info.name] ?? {};
      if (info.config_schema) {
        const c = checkConfig({ type: "object", ...info.config_schema }, config);
        if (!c.ok) return reject(v, s, "validate", `[plugins.${info.name}] ${c.error}`);
        config = c.value ?? {};
      }
      v.info = info;
      const set = await v.expect({ t: "setup", config }, loadMs, "setup");
      if (set.t !== "setup-done") return reject(v, s, set.stage ?? "setup", set.message);
      if (stopped || !s.enabled || !slots.has(s.entry)) return void v.stop();
      const old = s.current;
      s.current = v;
      s.name = info.name;
      s.generation = generation;
      s.loadedAt = Date.now();
      if (!restart) {
        s.lastError = null;
        s.counters.consecutive_errors = 0;
      }
      s.autoDisabled = false;
      log.info(old ? "plugin reloaded" : "plugin loaded", { plugin: info.name, file: s.file, version: info.version ?? undefined, generation });
      if (old) void old.retire();
    } catch (err) {
      // A version that failed here must not live on beside the running one.
      if (v && s.current !== v) v.kill();
      fail(s, "import", (err as Error).message);
    } finally {
      s.loading = false;
    }
  }

  function reject(v: Version, s: Slot, stage: LoadStage, message: string) {
    v.kill();
    fail(s, stage, message);
  }

  function unload(s: Slot, why: string) {
    slots.delete(s.entry);
    if (s.current) {
      log.info("plugin unloaded", { plugin: s.name, file: s.file, reason: why });
      void s.current.retire();
    }
    s.current = null;
  }

  function enqueue(work: () => Promise<void>): Promise<void> {
    const next = chain.then(work, work);
    chain = next.catch(() => undefined);
    return next;
  }

  /** Reloads what changed, loads what is new, unloads what is gone. */
  function scan(force = false): Promise<void> {
    return enqueue(async () => {
      if (stopped) return;
      lastSignature = signature(dir);
      const found = discoverPlugins(dir);
      const entries = new Set(found.map((f) => f.entry));
      for (const s of [...slots.values()]) if (!entries.has(s.entry)) unload(s, "file removed");
      // In parallel: one plugin whose import or setup hangs until its timeout must not hold up the others
      // (nor, at start, the server's listening by one timeout per plugin). Slots are made in file order.
      await Promise.all(found.map((f) => load(slotFor(f.entry, f.file), force)));
    });
  }

  function scheduleScan() {
    if (stopped) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = null;
      void scan();
    }, opts.debounceMs ?? 100);
  }

  function startWatching() {
    if (watcher || !existsSync(dir)) return;
    try {
      watcher = watch(dir, { recursive: true }, () => scheduleScan());
      watcher.on("error", (err) => {
        log.warn("watching the plugins directory failed; the periodic check remains", { err: String(err) });
        watcher?.close();
        watcher = null;
      });
    } catch (err) {
      log.warn("cannot watch the plugins directory; the periodic check remains", { dir, err: String(err) });
    }
  }

  /**
   * Counts one hook call; errors in a row past the budget disable the plugin until it changes or is enabled.
   * `budget: false` (the plugin's REST routes): counted, but neither spends nor resets the budget — anyone
   * may call a public route, and a stranger's bad requests must not switch the plugin off for the visitors.
   */
  async function invoke(s: Slot, hook: string, ctx: unknown, args: unknown[], timeoutMs = opts.hookTimeoutMs, budget = true): Promise<{ ok: true; value: unknown } | { ok: false }> {
    const v = s.current;
    if (!v || !active(s)) return { ok: false };
    const t0 = performance.now();
    s.counters.calls++;
    try {
      const value = await v.call(hook, ctx, args, timeoutMs);
      s.latency.add((performance.now() - t0) * LATENCY_SCALE);
      if (s.current === v && budget) s.counters.consecutive_errors = 0;
      return { ok: true, value };
    } catch (err) {
      s.latency.add((performance.now() - t0) * LATENCY_SCALE);
      s.counters.errors++;
      const timedOut = err instanceof HookTimeout;
      if (timedOut) s.counters.timeouts++;
      log.warn(timedOut ? "plugin hook timed out; skipped" : "plugin hook failed; skipped", { plugin: s.name, hook, err: (err as Error).message, ...(timedOut ? { timeout_ms: timeoutMs } : {}) });
      if (budget && s.current === v && ++s.counters.consecutive_errors >= maxErrors && maxErrors > 0 && !s.autoDisabled) {
        s.autoDisabled = true;
        s.lastError = { stage: "run", message: `disabled after ${s.counters.consecutive_errors} errors in a row (last: ${(err as Error).message})`, at: Date.now() };
        log.error("plugin disabled after errors in a row; fix it (any change reloads it) or enable it in the admin API", { plugin: s.name, errors: s.counters.consecutive_errors });
        s.current = null;
        void v.stop(500);
      }
      return { ok: false };
    }
  }

  async function messageCtx(input: MessageInput) {
    const seen = input.conversationId && services ? await services.lookup(input.conversationId) : { conversation: null, visitor: null };
    const message = { text: input.text, parts: input.parts?.length ? input.parts : [input.text], lang: input.lang };
    // text/lang at the top: what the first plugin API passed to onMessage(message), still there for old plugins.
    return { ...seen, message, text: message.text, lang: message.lang, conversationId: input.conversationId };
  }

  function verdictOf(v: unknown): MessageVerdict | null {
    if (!v || typeof v !== "object") return null;
    const r = v as Record<string, unknown>;
    if (r.handoff === true) return { handoff: true, ...(typeof r.reason === "string" ? { reason: r.reason.slice(0, 100) } : {}) };
    // `reply`: the first plugin API's name for `text`, still accepted.
    const text = typeof r.text === "string" ? r.text : r.reply;
    if (typeof text === "string" && text.trim() !== "") {
      const choices = Array.isArray(r.choices) ? r.choices.filter((c): c is string => typeof c === "string" && c.trim() !== "").slice(0, 10).map((c) => clip(c, LABEL_CHARS)) : [];
      const sources = Array.isArray(r.sources)
        ? r.sources
            .filter((x): x is PluginSource => !!x && typeof x === "object" && typeof (x as PluginSource).id === "string")
            .slice(0, 10)
            .map((x) => {
              const url = safeLink(x.url);
              return { id: clip(x.id, LABEL_CHARS), ...(typeof x.title === "string" ? { title: clip(x.title, LABEL_CHARS) } : {}), ...(url ? { url } : {}) };
            })
        : [];
      return { text: clip(text, maxText), ...(choices.length ? { choices } : {}), ...(sources.length ? { sources } : {}) };
    }
    return null;
  }

  const findSlot = (name: string) => [...slots.values()].find((s) => s.name === name);

  return {
    dir,
    /** Loads every plugin, then watches the directory. Services arrive here: hooks need the features. */
    async start(svc?: PluginServices) {
      if (svc) services = svc;
      await scan();
      if (opts.watch === false || stopped) return;
      startWatching();
      const pollMs = opts.pollMs ?? 2000;
      if (pollMs > 0) {
        poll = setInterval(() => {
          startWatching(); // the directory may have appeared
          if (!debounce && signature(dir) !== lastSignature) scheduleScan();
        }, pollMs);
        poll.unref?.();
      }
    },

    get list(): { name: string; file: string }[] {
      return ordered().map((s) => ({ name: s.name, file: s.file }));
    },

    /** onMessage hooks in order; the first answer or handoff wins. A failing, slow or disabled plugin is skipped. */
    async onMessage(input: MessageInput): Promise<{ plugin: string; verdict: MessageVerdict } | null> {
      const targets = ordered().filter((s) => s.current!.info!.hooks.includes("onMessage"));
      if (targets.length === 0) return null;
      const ctx = await messageCtx(input);
      for (const s of targets) {
        const r = await invoke(s, "onMessage", ctx, []);
        const verdict = r.ok ? verdictOf(r.value) : null;
        if (verdict) return { plugin: s.name, verdict };
      }
      return null;
    },

    /** True when some loaded plugin rewrites answers (the pipeline then sends a reset before a changed text). */
    hasAnswerHooks: () => ordered().some((s) => s.current!.info!.hooks.includes("onAnswer")),

    /** onAnswer hooks in order: each sees the previous one's rewrite; a veto ends it. */
    async onAnswer(input: MessageInput, answer: AnswerInput): Promise<{ text: string; changed: boolean; veto?: { plugin: string; reason?: string } }> {
      const targets = ordered().filter((s) => s.current!.info!.hooks.includes("onAnswer"));
      let text = answer.text;
      if (targets.length === 0) return { text, changed: false };
      const ctx = await messageCtx(input);
      for (const s of targets) {
        const r = await invoke(s, "onAnswer", ctx, [{ ...answer, text }]);
        if (!r.ok || !r.value || typeof r.value !== "object") continue;
        const v = r.value as Record<string, unknown>;
        if (v.veto === true) return { text, changed: text !== answer.text, veto: { plugin: s.name, ...(typeof v.reason === "string" ? { reason: v.reason } : {}) } };
        if (typeof v.text === "string" && v.text.trim() !== "") text = clip(v.text, maxText);
      }
      return { text, changed: text !== answer.text };
    },

    /** The first active plugin (in order) that declares `breaker`, or null. */
    breakerPlugin(): string | null {
      return ordered().find((s) => s.current!.info!.hooks.includes("breaker"))?.name ?? null;
    },

    /** That plugin's `breaker.shouldOpen` verdict; null when it failed or timed out (the breaker stays as it is). */
    async breakerVerdict(window: Record<string, unknown>, outcome: { ok: boolean; error: string | null }): Promise<boolean | null> {
      const s = ordered().find((x) => x.current!.info!.hooks.includes("breaker"));
      if (!s) return null;
      const r = await invoke(s, "breaker", {}, [window, outcome]);
      return r.ok ? r.value === true : null;
    },

    /** Conversation events go to every plugin with the hook, without waiting. */
    onConversation(event: Record<string, unknown> & { type: string; conversation_id: string }) {
      for (const s of ordered()) if (s.current!.info!.hooks.includes("onConversation")) void invoke(s, "onConversation", {}, [event]);
    },

    /** The plugin route for a request, with its `:params`; null when there is none. */
    findRoute(name: string, method: string, path: string) {
      const s = findSlot(name);
      if (!s || !active(s)) return null;
      const routes = s.current!.info!.routes;
      const want = path.split("/").filter(Boolean);
      for (const [index, r] of routes.entries()) {
        if (r.method !== method) continue;
        const params = matchPath(r.path, want);
        if (params) return { slot: s, index, public: r.public, params };
      }
      return null;
    },

    async callRoute(found: { slot: Slot; index: number }, req: unknown): Promise<{ status: number; body: unknown } | null> {
      const r = await invoke(found.slot, "route", {}, [found.index, req], routeMs, false);
      if (!r.ok) return null;
      const out = r.value as { status?: unknown; body?: unknown };
      const status = typeof out?.status === "number" && out.status >= 200 && out.status <= 599 ? Math.trunc(out.status) : 200;
      return { status, body: out?.body ?? null };
    },

    listing(): PluginListing[] {
      return [...slots.values()]
        .sort((a, b) => (a.file < b.file ? -1 : 1))
        .map((s) => ({
          name: s.name,
          file: s.file,
          status: statusOf(s),
          version: s.current?.info?.version ?? null,
          generation: s.generation,
          loaded_at: s.loadedAt ? new Date(s.loadedAt).toISOString() : null,
          hooks: s.current?.info?.hooks ?? [],
          routes: s.current?.info?.routes ?? [],
          last_error: s.lastError ? { ...s.lastError, at: new Date(s.lastError.at).toISOString() } : null,
          counters: { ...s.counters, latency_ms: unscale(s.latency.percentiles()) },
        }));
    },

    has: (name: string) => !!findSlot(name),

    /** Reloads one plugin (by name) or all of them, even when unchanged. */
    async reload(name?: string): Promise<void> {
      if (!name) return scan(true);
      const s = findSlot(name);
      if (s) await enqueue(() => load(s, true));
    },

    /** Disabling unloads the plugin (dispose runs); enabling loads it again from its file. */
    async setEnabled(name: string, enabled: boolean): Promise<void> {
      const s = findSlot(name);
      if (!s) return;
      await enqueue(async () => {
        if (enabled) await kv.delete(HOST_KV, disabledKey(s.name));
        else await kv.set(HOST_KV, disabledKey(s.name), true, null);
        if (!enabled) {
          s.enabled = false;
          const v = s.current;
          s.current = null;
          if (v) await v.retire();
          log.info("plugin disabled", { plugin: s.name });
          return;
        }
        const wasOff = !s.enabled || s.autoDisabled;
        s.enabled = true;
        if (wasOff || !s.current) {
          s.autoDisabled = false;
          s.counters.consecutive_errors = 0;
          await load(s, true);
        }
      });
    },

    /** Rescans now (tests; the watcher does this by itself). */
    scan: () => scan(),

    async stop() {
      stopped = true;
      watcher?.close();
      watcher = null;
      if (poll) clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      await chain.catch(() => undefined);
      await Promise.all([...slots.values()].map((s) => s.current?.stop(1000)));
      slots.clear();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    },
  };
}

export type PluginHost = ReturnType<typeof createPluginHost>;
