import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TestServer } from "./helpers/server";
import { rawRequest, requestText } from "./helpers/raw-http";
import { agent, cid, makeAgent, startChatServer, WsClient } from "./helpers/ws-client";

/**
 * Abuse of the public visitor socket from several client addresses (X-Forwarded-For from a trusted
 * proxy): new visitors and sockets per IP, the frame budget and the flood cut-off, the hello timeout,
 * read receipts, origins. Other addresses are never affected.
 */

const NEW_VISITORS = 20;
let s: TestServer;
beforeAll(async () => {
  s = await startChatServer({
    server: { trusted_proxies: ["127.0.0.1"], allowed_origins: ["https://shop.example"] },
    chat: { new_visitors_per_ip_per_minute: NEW_VISITORS, max_sockets_per_ip: 30, hello_timeout_s: 1, flood_cooldown_s: 60 },
  });
});
afterAll(() => s.stop());

const from = (ip: string, extra: Record<string, string> = {}) => ({ "x-forwarded-for": ip, ...extra });
const count = (table: string) => s.kefu.ctx.db.query<{ n: number }, []>(`SELECT count(*) AS n FROM ${table}`).get()!.n;

async function upgradeStatus(headers: Record<string, string>) {
  const res = await rawRequest(
    s.kefu.port,
    requestText("GET", "/ws", `127.0.0.1:${s.kefu.port}`, { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13", ...headers }).replace("Connection: close\r\n", ""),
    { waitMs: 1000 },
  );
  return res.status;
}

describe("visitor socket abuse", () => {
  test("2,000 hello frames from one address create at most the configured visitors and no conversation", async () => {
    const visitors0 = count("chat_visitors");
    const convs0 = count("chat_conversations");
    let welcomes = 0;
    let limited = 0;
    // 80 sockets × 25 hellos (within the frame budget: this is about visitors, not flooding). A refused
    // hello leaves the socket without a session, so it may try again.
    for (let i = 0; i < 80; i++) {
      const c = await WsClient.connect(`${s.wsUrl}/ws`, from("203.0.113.5"));
      for (let j = 0; j < 25; j++) c.send({ type: "hello" });
      await c.sync();
      welcomes += c.frames.filter((f) => f.type === "welcome").length;
      limited += c.frames.filter((f) => f.type === "error" && f.code === "new_visitors_limited").length;
      await c.close();
    }
    expect(welcomes).toBe(NEW_VISITORS);
    // The first 20 sockets got a visitor (their other hellos: already_hello); every hello of the rest was refused.
    expect(limited).toBe((80 - NEW_VISITORS) * 25);
    expect(count("chat_visitors") - visitors0).toBe(NEW_VISITORS);
    // No visitor wrote anything: not one conversation row.
    expect(count("chat_conversations") - convs0).toBe(0);

    // Another address is unaffected, and its first message stores its conversation under the announced id.
    const other = await WsClient.connect(`${s.wsUrl}/ws`, from("198.51.100.1"));
    other.send({ type: "hello" });
    const welcome = await other.nextType("welcome");
    const id = cid();
    other.send({ type: "send", client_id: id, text: "hello there" });
    expect(await other.nextType("ack")).toMatchObject({ client_id: id, seq: 1 });
    expect((await s.kefu.ctx.chat.getConversation(welcome.conversation_id))?.visitorId).toBe(welcome.visitor_id);
    expect(count("chat_conversations") - convs0).toBe(1);
    other.close();
  });

  test("a returning visitor's hello (with its token) is not counted as new", async () => {
    const first = await WsClient.connect(`${s.wsUrl}/ws`, from("203.0.113.77"));
    first.send({ type: "hello" });
    const w = await first.nextType("welcome");
    first.close();
    for (let i = 0; i < NEW_VISITORS + 5; i++) {
      const again = await WsClient.connect(`${s.wsUrl}/ws`, from("203.0.113.77"));
      again.send({ type: "hello", token: w.token, visitor_id: w.visitor_id });
      expect((await again.nextType("welcome")).visitor_id).toBe(w.visitor_id);
      again.close();
    }
  });

  test("a socket that keeps flooding after rate_limited is closed with 1008, its address cooled down, others unaffected", async () => {
    const bystander = await WsClient.connect(`${s.wsUrl}/ws`, from("198.51.100.2"));
    bystander.send({ type: "hello" });
    await bystander.nextType("welcome");

    const flood = await WsClient.connect(`${s.wsUrl}/ws`, from("203.0.113.9"));
    flood.send({ type: "hello" });
    await flood.nextType("welcome");
    for (let i = 0; i < 5000 && flood.ws.readyState === WebSocket.OPEN; i++) flood.send({ type: "typing", on: i % 2 === 0 });
    const closed = await flood.closed;
    expect(closed.code).toBe(1008);
    expect(flood.frames.filter((f) => f.type === "error" && f.code === "rate_limited").length).toBe(1);

    // The flooding address may not come back for [chat] flood_cooldown_s; another may.
    expect(await upgradeStatus(from("203.0.113.9"))).toBe(429);
    expect(await upgradeStatus(from("198.51.100.3"))).toBe(101);
    const id = cid();
    bystander.send({ type: "send", client_id: id, text: "still served" });
    expect(await bystander.nextType("ack")).toMatchObject({ client_id: id });
    bystander.close();
  });

  test("open sockets per address are capped; another address still connects", async () => {
    const open: WsClient[] = [];
    for (let i = 0; i < 30; i++) open.push(await WsClient.connect(`${s.wsUrl}/ws`, from("203.0.113.20")));
    expect(await upgradeStatus(from("203.0.113.20"))).toBe(429);
    expect(await upgradeStatus(from("203.0.113.21"))).toBe(101);
    await Promise.all(open.map((c) => c.close()));
    // Closed sockets give their places back.
    expect(await upgradeStatus(from("203.0.113.20"))).toBe(101);
  });

  test("a socket that never sends hello is closed with 1008", async () => {
    const idle = await WsClient.connect(`${s.wsUrl}/ws`, from("203.0.113.30"));
    idle.send({ type: "ping" });
    await idle.nextType("pong");
    expect((await idle.closed).code).toBe(1008);
  });

  test("read receipts are stored at most once a second: 30 reads reach the agent as at most 2", async () => {
    const staff = await makeAgent(s);
    const a = await agent(s.wsUrl, staff.token);
    const v = await WsClient.connect(`${s.wsUrl}/ws`, from("198.51.100.40"));
    v.send({ type: "hello" });
    const w = await v.nextType("welcome");
    v.send({ type: "send", client_id: cid(), text: "human" });
    await v.nextType("ack");
    a.c.send({ type: "watch", conversation_id: w.conversation_id, last_seq: 0 });
    await a.c.nextType("message");
    await a.c.sync();
    for (let i = 0; i < 30; i++) v.send({ type: "read", seq: 1 });
    await v.sync();
    await Bun.sleep(1200);
    await a.c.sync();
    const reads = a.c.frames.filter((f) => f.type === "read" && f.conversation_id === w.conversation_id);
    expect(reads.length).toBeGreaterThanOrEqual(1);
    expect(reads.length).toBeLessThanOrEqual(2);
    v.close();
    a.c.close();
  });

  test("Origin: the server's own and listed origins connect; another page's origin is refused with 403", async () => {
    expect(await upgradeStatus(from("198.51.100.50", { origin: "https://shop.example" }))).toBe(101);
    expect(await upgradeStatus(from("198.51.100.50", { origin: `http://127.0.0.1:${s.kefu.port}` }))).toBe(101);
    expect(await upgradeStatus(from("198.51.100.50", { origin: "https://evil.example" }))).toBe(403);
    expect(await upgradeStatus(from("198.51.100.50", { origin: "https://shop.example.evil.example" }))).toBe(403);
    // The history route answers the widget's preflight from a listed origin only.
    const pre = (origin: string) =>
      fetch(`${s.url}/api/conversations/c_x/messages`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "GET", "access-control-request-headers": "authorization" } });
    const ok = await pre("https://shop.example");
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    const bad = await pre("https://evil.example");
    expect(bad.status).toBe(403);
    expect(bad.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("IPv6 addresses of one /64 share one new-visitor allowance", async () => {
    let welcomes = 0;
    for (let i = 0; i < NEW_VISITORS + 5; i++) {
      const c = await WsClient.connect(`${s.wsUrl}/ws`, from(`2001:db8:77:1::${(i + 1).toString(16)}`));
      c.send({ type: "hello" });
      await c.sync();
      welcomes += c.frames.filter((f) => f.type === "welcome").length;
      await c.close();
    }
    expect(welcomes).toBe(NEW_VISITORS);
    const other = await WsClient.connect(`${s.wsUrl}/ws`, from("2001:db8:77:2::1"));
    other.send({ type: "hello" });
    expect((await other.nextType("welcome")).type).toBe("welcome");
    other.close();
  });

  test("without trusted proxies, X-Forwarded-For is ignored: rotating it does not buy new visitors", async () => {
    const plain = await startChatServer({ chat: { new_visitors_per_ip_per_minute: 3 } });
    try {
      let welcomes = 0;
      for (let i = 0; i < 10; i++) {
        const c = await WsClient.connect(`${plain.wsUrl}/ws`, { "x-forwarded-for": `192.0.2.${i}` });
        c.send({ type: "hello" });
        await c.sync();
        welcomes += c.frames.filter((f) => f.type === "welcome").length;
        c.close();
      }
      expect(welcomes).toBe(3);
    } finally {
      await plain.stop();
    }
  });
});
