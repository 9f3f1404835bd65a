/**
 * Review of issue 12: the widget (src/web/widget) when its stored state is not what it wrote, and when
 * the shop switches the signed-in user without a reset (found by the review, fixed in the widget).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { startTestServer, type TestServer } from "./helpers/server";
import { type Browser, launchBrowser, noBrowser, watchErrors } from "./browser/helpers";

declare const window: any, localStorage: any;

const W = "#kefu-widget >> ";
const SECRET = "review-widget-secret";
const sign = (id: string) => createHmac("sha256", SECRET).update(id).digest("hex");

describe.skipIf(noBrowser)("the widget, reviewed", () => {
  let browser: Browser;
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ log: { level: "warn" }, chat: { identity_secret: SECRET } as never });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  // storage.ts read(): JSON.parse of the stored value is trusted as an object; "null" (or a pending
  // that is not an array) throws in createWidget / mount, and the widget never appears on that browser.
  for (const stored of ["null", '{"pending":5}', '{"pending":[null]}']) {
    test(`a stored value of ${stored} does not stop the widget from mounting`, async () => {
      const context = await browser.newContext();
      const key = `kefu:${new URL(s.url).origin}`;
      await context.addInitScript(([k, v]: string[]) => localStorage.setItem(k, v), [key, stored]);
      const page = await context.newPage();
      const errors = watchErrors(page);
      try {
        await page.goto(`${s.url}/`);
        await page.locator(`${W}.launcher`).waitFor({ state: "attached", timeout: 5_000 });
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
    }, 30_000);
  }

  test("frames of an unexpected shape from the server cost that frame, not the widget", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    // A stand-in server on the WebSocket: a welcome, then garbage, then one good message.
    await page.routeWebSocket(/\/ws$/, (ws) => {
      ws.onMessage((raw) => {
        const f = JSON.parse(String(raw));
        if (f.type !== "hello") return;
        ws.send(JSON.stringify({ type: "welcome", v: 1, visitor_id: "v1", token: "t1", conversation_id: "c1", state: "bot", last_seq: 0, limits: { max_text_chars: 4000, max_frame_bytes: 32768, heartbeat_s: 25 } }));
        for (const bad of ["null", "5", '"x"', "[]", '{"type":5}', '{"type":"message","seq":1,"from":"bot","text":5,"at":0}', '{"type":"message","seq":2,"from":"bot","text":"a","sources":"x","choices":{},"at":0}', '{"type":"state","seq":3}', '{"type":"delta"}'])
          ws.send(bad);
        ws.send(JSON.stringify({ type: "message", seq: 4, from: "bot", text: "still here", at: 0 }));
      });
    });
    const errors = watchErrors(page);
    try {
      await page.goto(`${s.url}/chat`);
      await page.locator(`${W}.msg.from-bot .bubble`, { hasText: "still here" }).waitFor({ timeout: 10_000 });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 30_000);

  // widget.ts setUser() only reconnects: the welcome for the other user's visitor is shown as a "new
  // conversation" divider under the previous user's transcript (transcript.setConversation), so the
  // next person on the computer reads what the last one wrote.
  test("setUser to another verified user does not leave the previous user's messages on screen", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${s.url}/`);
      await page.evaluate((u) => window.kefu("setUser", u), { id: "review-ann", hash: sign("review-ann") });
      await page.evaluate(() => window.kefu("open"));
      await page.locator(`${W}textarea.input`).fill("my card ends in 4242");
      await page.locator(`${W}textarea.input`).press("Enter");
      await page.locator(`${W}.msg.from-bot`).first().waitFor({ timeout: 10_000 });
      await page.evaluate((u) => window.kefu("setUser", u), { id: "review-bob", hash: sign("review-bob") });
      // Bob's welcome: a visitor of his own.
      for (let i = 0; i < 50; i++) {
        const ext = s.kefu.ctx.db.query<{ n: number }, []>("SELECT count(*) AS n FROM chat_visitors WHERE external_id = 'review-bob'").get()!.n;
        if (ext) break;
        await Bun.sleep(100);
      }
      await Bun.sleep(500);
      expect(await page.locator(`${W}.log`).textContent()).not.toContain("4242");
    } finally {
      await context.close();
    }
  }, 60_000);
});
