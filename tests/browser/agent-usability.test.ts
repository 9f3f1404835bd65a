/**
 * The agent console as a busy agent uses it: server errors as toasts in the UI's language, a refused reply
 * put back into the box, the canned-reply popup by keyboard only, the caret in the reply box after a claim,
 * visitor info on a window too narrow for the side panel. Screenshots: tests/artifacts/agent-usability-*.png.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agent as agentSocket, makeAgent, visitor } from "../helpers/ws-client";
import { startTestServer, type TestServer } from "../helpers/server";
import { openConsole } from "./agent-helpers";
import { type Browser, type BrowserContext, launchBrowser, noBrowser, screenshot } from "./helpers";

/**
 * Puts the console's /ws/agent behind a relay that can hold back server frames (`hold(true)`) and let them
 * through later in order (`hold(false)`): the console then acts on a view the server has already moved past,
 * as it does when two agents click at the same moment.
 */
function relay() {
  let holding = false;
  let held: (() => void)[] = [];
  return {
    hold(on: boolean) {
      holding = on;
      if (!on) {
        const release = held;
        held = [];
        for (const f of release) f();
      }
    },
    async install(context: BrowserContext) {
      await context.routeWebSocket(/\/ws\/agent/, (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((m) => server.send(m));
        server.onMessage((m) => {
          const type = typeof m === "string" ? (JSON.parse(m) as { type: string }).type : "";
          // Answers to what the console sends now pass; news about conversations and agents waits.
          if (holding && !["ack", "error", "pong", "note"].includes(type)) held.push(() => ws.send(m));
          else ws.send(m);
        });
      });
    },
  };
}

describe.skipIf(noBrowser)("the agent console for a busy agent", () => {
  let browser: Browser;
  let s: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kefu-agent-usability-"));
    s = await startTestServer({ log: { level: "warn" } }, dir);
    browser = await launchBrowser();
  });
  // A failed test must not leave its agent online to take the next test's visitors.
  const opened: BrowserContext[] = [];
  const open = async (...args: Parameters<typeof openConsole>) => {
    const o = await openConsole(...args);
    opened.push(o.context);
    return o;
  };
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close().catch(() => {});
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("Chinese UI: agent_offline and not_owner from the server are Chinese toasts / labels; a refused reply goes back into the box", async () => {
    await makeAgent(s, { name: "fen", displayName: "Fen" });
    const gao = await makeAgent(s, { name: "gao", displayName: "Gao", maxConcurrent: 0 });
    const hui = await makeAgent(s, { name: "hui", displayName: "Hui", maxConcurrent: 0 });
    const gaoSocket = (await agentSocket(s.wsUrl, gao.token)).c;
    const r = relay();
    const { page, context, errors } = await open(browser, s.url, "fen", { locale: "zh-CN", prepare: (c) => r.install(c) });
    const { c: v } = await visitor(s.wsUrl, { lang: "zh" });
    v.send({ type: "send", client_id: "z1", text: "转人工" });
    await v.nextType("state", (f) => f.state === "agent" && f.agent.name === "Fen");
    await page.locator(".tab-mine").click();
    await page.locator(".conv-item", { hasText: "转人工" }).click();
    await page.locator(".composer textarea").waitFor({ timeout: 5000 });
    await page.locator(".action-transfer option", { hasText: "Gao" }).waitFor({ state: "attached", timeout: 5000 });

    // Gao goes offline; the console has not heard yet and offers Gao: the server refuses, the toast says why in Chinese.
    r.hold(true);
    await gaoSocket.close();
    await Bun.sleep(300);
    await page.locator(".action-transfer").selectOption({ label: "Gao (在线, 0/0)" });
    const toast = page.locator(".toast");
    await toast.waitFor({ timeout: 5000 });
    expect(await toast.textContent()).toBe("该客服已离线，请选择其他客服");
    await screenshot(page, "agent-usability-toast");

    // Hui takes the conversation over meanwhile; Fen's reply is refused: shown as failed in Chinese, with a way back.
    const { c: huiSocket } = await agentSocket(s.wsUrl, hui.token);
    huiSocket.send({ type: "claim", conversation_id: v.frames.find((f) => f.type === "welcome")!.conversation_id });
    await v.nextType("state", (f) => f.state === "agent" && f.agent.name === "Hui");
    const box = page.locator(".composer textarea");
    await box.fill("您好，我来帮您看看");
    await box.press("Enter");
    const failed = page.locator(".transcript .msg.pending .failed");
    await failed.waitFor({ timeout: 5000 });
    expect(await failed.textContent()).toBe("发送失败: 此会话由其他客服负责，请先接管");
    await page.locator(".transcript .msg.pending .put-back").click();
    expect(await page.locator(".transcript .msg.pending").count()).toBe(0);
    expect(await box.inputValue()).toBe("您好，我来帮您看看");
    await page.waitForFunction(`document.activeElement && document.activeElement.tagName === "TEXTAREA"`, undefined, { timeout: 5000 });

    // The held news arrives: the conversation is Hui's now, the box locks (what was written is kept for a take-over).
    r.hold(false);
    await page.locator(".composer-locked").waitFor({ timeout: 5000 });
    await page.locator(".conv-header .agent-name", { hasText: "Hui" }).waitFor({ timeout: 5000 });
    await page.locator(".action-claim").click();
    await page.locator(".composer textarea").waitFor({ timeout: 5000 });
    expect(await box.inputValue()).toBe("您好，我来帮您看看");
    await box.press("Enter");
    await v.nextType("message", (f) => f.from === "agent" && f.text === "您好，我来帮您看看");
    expect(errors).toEqual([]);
    v.close();
    huiSocket.close();
    await context.close();
  }, 60_000);

  test("keyboard only: claim puts the caret in the box; / popup with arrows, Escape and Tab; a reply ending in /word does not reopen it", async () => {
    const ida = await makeAgent(s, { name: "ida", displayName: "Ida", maxConcurrent: 0 });
    for (const [shortcut, text] of [
      ["hello", "Hello! How can I help?"],
      ["refund", "Refunds: see /help on our site"],
      ["bye", "Thanks, goodbye!"],
    ]) {
      const res = await fetch(`${s.url}/api/agent/canned`, {
        method: "POST",
        headers: { authorization: `Bearer ${ida.token}`, "content-type": "application/json" },
        body: JSON.stringify({ shortcut, text }),
      });
      expect(res.status).toBeLessThan(300);
    }
    const { page, context, errors } = await open(browser, s.url, "ida");
    const { c: v, welcome } = await visitor(s.wsUrl, { lang: "en" });
    v.send({ type: "send", client_id: "k1", text: "human please" });
    await v.nextType("state", (f) => f.state === "queued");
    await page.locator(".tab-queued").click();
    await page.locator(`.conv-item[data-id="${welcome.conversation_id}"]`).click();
    await page.locator(".action-claim").focus();
    await page.keyboard.press("Enter");
    await page.locator(".composer textarea").waitFor({ timeout: 5000 });
    await page.waitForFunction(`document.activeElement && document.activeElement.tagName === "TEXTAREA"`, undefined, { timeout: 5000 });
    // The list moved to Mine, where the claimed conversation now is (selected).
    await page.locator(`.tab-mine[aria-selected=true]`).waitFor({ timeout: 5000 });
    await page.locator(`.conv-item.selected[data-id="${welcome.conversation_id}"]`).waitFor({ timeout: 5000 });

    const active = page.locator(".canned-popup li.active .shortcut");
    await page.keyboard.type("/");
    await page.locator(".canned-popup li[role=option]").nth(2).waitFor({ timeout: 5000 });
    const order = await page.locator(".canned-popup li[role=option] .shortcut").allTextContents();
    expect(await active.textContent()).toBe(order[0]);
    await page.keyboard.press("ArrowDown");
    expect(await active.textContent()).toBe(order[1]);
    await page.keyboard.press("ArrowUp");
    await page.keyboard.press("ArrowUp");
    expect(await active.textContent()).toBe(order[2]);
    await screenshot(page, "agent-usability-popup");
    await page.keyboard.press("Escape");
    expect(await page.locator(".canned-popup").count()).toBe(0);
    await page.keyboard.type("re");
    await active.filter({ hasText: "/refund" }).waitFor({ timeout: 5000 });
    await page.keyboard.press("Tab");
    const box = page.locator(".composer textarea");
    expect(await box.inputValue()).toBe("Refunds: see /help on our site");
    // The inserted text's "/help" is not a shortcut being typed: Enter sends.
    expect(await page.locator(".canned-popup").count()).toBe(0);
    await page.keyboard.press("Enter");
    const sent = await v.nextType("message", (f) => f.from === "agent");
    expect(sent.text).toBe("Refunds: see /help on our site");
    expect(await box.inputValue()).toBe("");
    expect(errors).toEqual([]);
    v.close();
    await context.close();
  }, 60_000);

  test("a 1024 px and a 420 px window: visitor info opens as a drawer over the conversation, closes with × or Escape", async () => {
    await makeAgent(s, { name: "jun", displayName: "Jun" });
    const { page, context, errors } = await open(browser, s.url, "jun", { viewport: { width: 1024, height: 760 } });
    const { c: v } = await visitor(s.wsUrl, { lang: "en", user: { id: "n-1", name: "Nora", email: "nora@example.com" }, context: { url: "https://shop.example/p/42", title: "Blue kettle" } });
    v.send({ type: "send", client_id: "d1", text: "human please, the kettle leaks" });
    await v.nextType("state", (f) => f.state === "agent");
    await page.locator(".tab-mine").click();
    await page.locator(".conv-item", { hasText: "Nora" }).click();
    const panel = page.locator(".context");
    expect(await panel.isVisible()).toBe(false);
    const toggle = page.locator(".action-context");
    expect(await toggle.getAttribute("aria-expanded", { timeout: 5000 })).toBe("false");
    await toggle.click();
    await panel.waitFor({ state: "visible", timeout: 5000 });
    expect(await toggle.getAttribute("aria-expanded", { timeout: 5000 })).toBe("true");
    await page.locator(".context a", { hasText: "Blue kettle" }).waitFor({ timeout: 5000 });
    // Tags work from the drawer.
    await page.locator(".tag-editor .tag-input").fill("leak");
    await page.locator(".tag-editor .tag-input").press("Enter");
    await page.locator(".conv-item .tag", { hasText: "leak" }).waitFor({ timeout: 5000 });
    await screenshot(page, "agent-usability-drawer-1024");
    await page.locator(".context-close").click();
    await panel.waitFor({ state: "hidden", timeout: 5000 });

    await page.setViewportSize({ width: 420, height: 820 });
    await toggle.click();
    await panel.waitFor({ state: "visible", timeout: 5000 });
    const box = (await panel.boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(421);
    expect(box.width).toBeGreaterThan(300);
    await screenshot(page, "agent-usability-drawer-420");
    await page.locator(".tag-editor .tag-input").focus();
    await page.keyboard.press("Escape");
    await panel.waitFor({ state: "hidden", timeout: 5000 });

    // Wide again: the side panel is there, and the button hides it.
    await page.setViewportSize({ width: 1360, height: 820 });
    await panel.waitFor({ state: "visible", timeout: 5000 });
    await page.locator(".action-context[aria-expanded=true]").waitFor({ timeout: 5000 });
    await toggle.click();
    await panel.waitFor({ state: "hidden", timeout: 5000 });
    expect(errors).toEqual([]);
    v.close();
    await context.close();
  }, 60_000);
});
