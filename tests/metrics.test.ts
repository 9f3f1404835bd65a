import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Families, parseExposition, sample, scrapeMetrics } from "./helpers/prometheus";
import { startTestServer, type TestServer } from "./helpers/server";
import { agent, cid, makeAgent, visitor } from "./helpers/ws-client";

/** Issue 17, done-when 1: /metrics is scraped, parsed as Prometheus text, and moves with one message. */

const TOKEN = "metrics-test-token-0123456789";
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ log: { level: "warn" }, metrics: { token: TOKEN } });
});
afterAll(() => s.stop());

const parse = parseExposition;
const scrape = () => scrapeMetrics(s.url, TOKEN);
const value = (fs: Families, family: string, name: string, labels: Record<string, string> = {}) => sample(fs, family, labels, name);

const FAMILIES: [string, string][] = [
  ["kefu_messages_received_total", "counter"],
  ["kefu_messages_sent_total", "counter"],
  ["kefu_answers_total", "counter"],
  ["kefu_answer_duration_seconds", "histogram"],
  ["kefu_rate_limited_total", "counter"],
  ["kefu_sockets_open", "gauge"],
  ["kefu_answers_in_flight", "gauge"],
  ["kefu_answers_waiting", "gauge"],
  ["kefu_answers_shed_total", "counter"],
  ["kefu_tickets_open", "gauge"],
  ["kefu_queue_oldest_wait_seconds", "gauge"],
  ["kefu_llm_breaker_state", "gauge"],
  ["kefu_llm_limit", "gauge"],
  ["kefu_llm_in_flight", "gauge"],
  ["kefu_llm_waiting", "gauge"],
  ["kefu_llm_requests_total", "counter"],
  ["kefu_llm_upstream_duration_seconds", "histogram"],
  ["kefu_llm_upstream_latency_seconds", "gauge"],
  ["kefu_answer_cache_hits_total", "counter"],
  ["kefu_answer_cache_misses_total", "counter"],
  ["kefu_answer_cache_entries", "gauge"],
  ["kefu_db_bytes", "gauge"],
  ["kefu_db_wal_bytes", "gauge"],
  ["kefu_event_loop_lag_seconds", "gauge"],
  ["kefu_process_resident_bytes", "gauge"],
  ["kefu_process_memory_limit_bytes", "gauge"],
  ["kefu_uptime_seconds", "gauge"],
];

describe("/metrics", () => {
  test("every family is present, typed and documented", async () => {
    const fs = await scrape();
    for (const [name, type] of FAMILIES) {
      expect({ name, type: fs.get(name)?.type, help: Boolean(fs.get(name)?.help) }).toEqual({ name, type, help: true });
    }
    // Label sets the alert rules rely on exist before their first event.
    for (const path of ["cache", "direct", "choice", "llm", "local", "plugin", "human", "fallback"]) {
      expect(fs.get("kefu_answers_total")!.samples.some((x) => x.labels.path === path)).toBe(true);
    }
    for (const kind of ["chat", "frames", "connections", "new_visitors", "login"]) {
      expect(fs.get("kefu_rate_limited_total")!.samples.some((x) => x.labels.kind === kind)).toBe(true);
    }
    expect(value(fs, "kefu_db_bytes", "kefu_db_bytes")).toBeGreaterThan(0);
  });

  test("one visitor message moves messages in +1, and the answer counter and histogram of its path", async () => {
    const before = await scrape();
    const { c } = await visitor(s.wsUrl, { lang: "zh" });
    c.send({ type: "send", client_id: cid(), text: "怎么退货？" }); // a demo entry: answered verbatim (direct)
    await c.nextType("message", (f) => f.from === "bot");
    const after = await scrape();
    const d = (family: string, name: string, labels: Record<string, string> = {}) => value(after, family, name, labels) - value(before, family, name, labels);
    expect(d("kefu_messages_received_total", "kefu_messages_received_total")).toBe(1);
    expect(d("kefu_messages_sent_total", "kefu_messages_sent_total", { sender: "bot" })).toBe(1);
    expect(d("kefu_answers_total", "kefu_answers_total", { path: "direct" })).toBe(1);
    expect(d("kefu_answer_duration_seconds", "kefu_answer_duration_seconds_count", { path: "direct" })).toBe(1);
    expect(d("kefu_answer_duration_seconds", "kefu_answer_duration_seconds_bucket", { path: "direct", le: "+Inf" })).toBe(1);
    expect(d("kefu_answer_duration_seconds", "kefu_answer_duration_seconds_sum", { path: "direct" })).toBeGreaterThan(0);
    expect(d("kefu_answers_total", "kefu_answers_total", { path: "llm" })).toBe(0);
    expect(value(after, "kefu_sockets_open", "kefu_sockets_open", { kind: "visitor" })).toBeGreaterThanOrEqual(1);
    c.close();
  });

  test("a visitor asking for a human: tickets open (queued) +1, the queue's oldest wait grows, a system notice is sent", async () => {
    const before = await scrape();
    const { c } = await visitor(s.wsUrl, { lang: "en" });
    c.send({ type: "send", client_id: cid(), text: "I want a human" });
    await c.nextType("message", (f) => f.from === "system");
    await Bun.sleep(20);
    const after = await scrape();
    expect(value(after, "kefu_tickets_open", "kefu_tickets_open", { state: "queued" }) - value(before, "kefu_tickets_open", "kefu_tickets_open", { state: "queued" })).toBe(1);
    expect(value(after, "kefu_queue_oldest_wait_seconds", "kefu_queue_oldest_wait_seconds")).toBeGreaterThan(0);
    expect(value(after, "kefu_messages_sent_total", "kefu_messages_sent_total", { sender: "system" })).toBeGreaterThan(value(before, "kefu_messages_sent_total", "kefu_messages_sent_total", { sender: "system" }));
    c.close();
  });

  test("an agent's reply is a human answer; the agent's socket and its ticket are counted", async () => {
    const other = await startTestServer({ log: { level: "warn" }, metrics: { token: TOKEN } });
    try {
      const get = async () => parse(await (await fetch(`${other.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text());
      const staff = await makeAgent(other);
      const a = await agent(other.wsUrl, staff.token);
      const v = await visitor(other.wsUrl, { lang: "en" });
      v.c.send({ type: "send", client_id: cid(), text: "human please" });
      await v.c.nextType("state", (f) => f.state === "agent");
      const before = await get();
      expect(value(before, "kefu_sockets_open", "kefu_sockets_open", { kind: "agent" })).toBe(1);
      expect(value(before, "kefu_tickets_open", "kefu_tickets_open", { state: "agent" })).toBe(1);
      a.c.send({ type: "send", conversation_id: v.welcome.conversation_id, client_id: cid("agent"), text: "Hello, Lin here" });
      await v.c.nextType("message", (f) => f.from === "agent");
      const after = await get();
      expect(value(after, "kefu_answers_total", "kefu_answers_total", { path: "human" }) - value(before, "kefu_answers_total", "kefu_answers_total", { path: "human" })).toBe(1);
      expect(value(after, "kefu_messages_sent_total", "kefu_messages_sent_total", { sender: "agent" }) - value(before, "kefu_messages_sent_total", "kefu_messages_sent_total", { sender: "agent" })).toBe(1);
      a.c.close();
      v.c.close();
    } finally {
      await other.stop();
    }
  });

  test("without the token, or with a wrong or an account's token: 401", async () => {
    expect((await fetch(`${s.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
    const admin = await s.login("admin");
    expect((await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(401);
  });

  test("[metrics] listen: a second address serving only /metrics; the main port has none without a token", async () => {
    const other = await startTestServer({ log: { level: "info" }, metrics: { listen: "127.0.0.1:0" } });
    try {
      const line = other.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "metrics listening");
      const base = `http://127.0.0.1:${line.port}`;
      const res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(200);
      const fs = parse(await res.text());
      for (const [name] of FAMILIES) expect(fs.has(name)).toBe(true);
      expect((await fetch(`${base}/healthz`)).status).toBe(404);
      expect((await fetch(`${other.url}/metrics`)).status).toBe(404);
    } finally {
      await other.stop();
    }
  });

  test("[metrics] listen with a token set asks for it there too", async () => {
    const other = await startTestServer({ log: { level: "info" }, metrics: { listen: "127.0.0.1:0", token: TOKEN } });
    try {
      const port = other.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "metrics listening").port;
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      await other.stop();
    }
  });

  test("[metrics] listen on a taken port: start-up fails saying so", async () => {
    const taken = `127.0.0.1:${s.kefu.port}`;
    const dir = mkdtempSync(join(tmpdir(), "kefu-metrics-"));
    const err = await startTestServer({ log: { level: "silent" }, metrics: { listen: taken } }, dir).catch((e: Error) => e);
    rmSync(dir, { recursive: true, force: true });
    expect((err as { code?: string }).code).toBe("metrics_listen_failed");
    expect((err as Error).message).toContain(taken);
  });

  test("off by default: no /metrics without [metrics] token", async () => {
    const off = await startTestServer({ log: { level: "warn" } });
    try {
      const res = await fetch(`${off.url}/metrics`, { headers: { authorization: "Bearer " } });
      expect(res.status).toBe(404);
      expect(off.kefu.app.routes.some((r) => r.path === "/metrics")).toBe(false);
    } finally {
      await off.stop();
    }
  });
});
