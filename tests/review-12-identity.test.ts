import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import type { TestServer } from "./helpers/server";
import { cid, startChatServer, visitor, WsClient } from "./helpers/ws-client";

/**
 * Review of issue 12 (identity verification), as an attacker: a shop customer with a valid hash for
 * their own account, and a device token of their own.
 */
const SECRET = "review-secret";
const sign = (id: string) => createHmac("sha256", SECRET).update(id).digest("hex");

let s: TestServer;
beforeAll(async () => {
  s = await startChatServer({ chat: { identity_secret: SECRET } });
}, 60_000);
afterAll(() => s.stop());

const tokenCount = (visitorId: string) =>
  s.kefu.ctx.db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM chat_visitor_tokens WHERE visitor_id = ?").get(visitorId)!.n;

describe("identity verification under attack", () => {
  test("hellos naming a verified user with another visitor's token do not grow the token table without bound", async () => {
    const user = { id: "u-mallory", hash: sign("u-mallory") };
    const linked = await visitor(s.wsUrl, { user });
    await linked.c.close();
    // Mallory's own anonymous visitor: a token that skips the new-visitors-per-minute limit.
    const anon = await visitor(s.wsUrl);
    await anon.c.close();
    for (let i = 0; i < 80; i++) {
      const c = await WsClient.connect(`${s.wsUrl}/ws`);
      c.send({ type: "hello", token: anon.welcome.token, user });
      const w = await c.nextType("welcome");
      expect(w.visitor_id).toBe(linked.welcome.visitor_id);
      await c.close();
    }
    expect(tokenCount(linked.welcome.visitor_id)).toBeLessThanOrEqual(20);
  }, 60_000);

  test("a device whose token was dropped by the cap gets a new one with the user's hash, and the newest tokens keep working", async () => {
    const user = { id: "u-many-devices", hash: sign("u-many-devices") };
    const first = await visitor(s.wsUrl, { user });
    first.c.send({ type: "send", client_id: cid(), text: "my first device" });
    await first.c.nextType("ack");
    await first.c.close();
    const tokens: string[] = [];
    for (let i = 0; i < 25; i++) {
      const anon = await visitor(s.wsUrl);
      await anon.c.close();
      const d = await visitor(s.wsUrl, { token: anon.welcome.token, user });
      tokens.push(d.welcome.token);
      await d.c.close();
    }
    // The newest device still resumes with its token alone.
    const newest = await visitor(s.wsUrl, { token: tokens.at(-1) });
    expect(newest.welcome.visitor_id).toBe(first.welcome.visitor_id);
    await newest.c.close();
    // The oldest device's token is gone: unauthorized (the widget then starts over with the user's hash) ...
    const c = await WsClient.connect(`${s.wsUrl}/ws`);
    c.send({ type: "hello", token: first.welcome.token });
    expect(await c.nextType("error")).toMatchObject({ code: "unauthorized" });
    await c.close();
    // ... and with the hash it is the same visitor again, its conversation intact.
    const back = await visitor(s.wsUrl, { user });
    expect(back.welcome.visitor_id).toBe(first.welcome.visitor_id);
    expect(await back.c.nextType("message", (f) => f.from === "visitor")).toMatchObject({ text: "my first device" });
    await back.c.close();
  }, 60_000);
});
