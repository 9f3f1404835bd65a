/**
 * The agent console under live traffic: two agents in two Chromium contexts, several raw visitor sockets.
 * Conversations move between Mine / Queued / All open (assignment, transfer, take over, return to bot,
 * close, claim) and survive a server restart; after every step each console's lists, counts and open
 * transcript must match the server: no duplicate row, no stale entry, no message lost.
 * Screenshots: tests/artifacts/agent-live-*.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeAgent, visitor, type WsClient } from "../helpers/ws-client";
import { startTestServer, type TestServer } from "../helpers/server";
import { openConsole } from "./agent-helpers";
import { type Browser, type BrowserContext, launchBrowser, noBrowser, type Page, screenshot } from "./helpers";

type Lists = { mine: string[]; queued: string[]; open: string[]; counts: Record<string, string> };

/** Every tab's list (conversation ids in order) and the count pills, read from the DOM. */
async function lists(page: Page): Promise<Lists> {
  const out: Lists = { mine: [], queued: [], open: [], counts: {} };
  for (const view of ["mine", "queued", "open"] as const) {
    await page.locator(`.tab-${view}`).click();
    await page.locator(`.tab-${view}[aria-selected=true]`).waitFor({ timeout: 5000 });
    out[view] = (await page.locator(".conv-list .conv-item").evaluateAll((els) => els.map((e) => e.getAttribute("data-id") ?? ""))) as string[];
    out.counts[view] = ((await page.locator(`.tab-${view} .count`).textContent()) ?? "").trim();
  }
  return out;
}

/** Waits until the console's lists are exactly these (order within a list ignored). */
async function expectLists(page: Page, want: { mine: string[]; queued: string[]; open: string[] }) {
  const norm = (l: { mine: string[]; queued: string[]; open: string[] }) => ({ mine: [...l.mine].sort(), queued: [...l.queued].sort(), open: [...l.open].sort() });
  const deadline = Date.now() + 10_000;
  let got: Lists;
  for (;;) {
    got = await lists(page);
    const ok = JSON.stringify(norm(got)) === JSON.stringify(norm(want));
    const counts = got.counts.mine === String(want.mine.length) && got.counts.queued === String(want.queued.length) && got.counts.open === String(want.open.length);
    if (ok && counts) return got;
    if (Date.now() > deadline) break;
    await Bun.sleep(150);
  }
  expect({ ...norm(got), counts: got.counts }).toEqual({ ...norm(want), counts: { mine: String(want.mine.length), queued: String(want.queued.length), open: String(want.open.length) } });
  return got;
}

/** The open transcript: seqs shown (each once) and the bubbles' texts by sender. */
async function transcript(page: Page) {
  const seqs = (await page.locator(".transcript [data-seq]").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-seq"))))) as number[];
  const visitorTexts = await page.locator(".transcript .msg.from-visitor .bubble").allTextContents();
  const agentTexts = await page.locator(".transcript .msg.from-agent:not(.pending) .bubble").allTextContents();
  return { seqs, visitorTexts, agentTexts };
}

/** The stored rows of a conversation: every seq the transcript must show, once. */
function storedSeqs(s: TestServer, id: string): number[] {
  return s.kefu.ctx.db
    .query<{ seq: number }, [string]>("SELECT seq FROM chat_messages WHERE conversation_id = ? ORDER BY seq")
    .all(id)
    .map((r) => r.seq);
}

async function expectTranscriptMatches(page: Page, s: TestServer, id: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { seqs } = await transcript(page);
    const want = storedSeqs(s, id);
    if (JSON.stringify(seqs) === JSON.stringify(want)) return;
    if (Date.now() > deadline) return expect(seqs).toEqual(want);
    await Bun.sleep(150);
  }
}

const open = async (page: Page, id: string) => {
  await page.locator(".tab-open").click();
  await page.locator(`.conv-item[data-id="${id}"]`).click();
  await page.locator(`.conv-item.selected[data-id="${id}"]`).waitFor({ timeout: 5000 });
};

let baseUrl = "";

describe.skipIf(noBrowser)("the agent console under live traffic", () => {
  let browser: Browser;
  let s: TestServer;
  let dir: string;
  const start = (port = 0) => startTestServer({ log: { level: "warn" }, server: { port } as never }, dir);
  const contexts: BrowserContext[] = [];
  const sockets: WsClient[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kefu-agent-live-"));
    s = await start();
    baseUrl = s.url;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    for (const c of sockets) c.ws.close();
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("two agents, four visitors: assignment, unread, transfer, take over, return to bot, close, claim, restart", async () => {
    const ann = await makeAgent(s, { name: "ann", displayName: "Ann", maxConcurrent: 5 });
    const ben = await makeAgent(s, { name: "ben", displayName: "Ben", maxConcurrent: 5 });
    const A = await openConsole(browser, baseUrl, "ann");
    const B = await openConsole(browser, baseUrl, "ben");
    contexts.push(A.context, B.context);

    // Three visitors ask for a human: least busy first, so Ann and Ben share them.
    const vs: { c: WsClient; id: string; agent: number }[] = [];
    for (const [i, name] of ["Vera", "Walt", "Xia"].entries()) {
      const { c, welcome } = await visitor(s.wsUrl, { lang: "en", user: { id: `u${i}`, name } });
      sockets.push(c);
      c.send({ type: "send", client_id: `h${i}`, text: `human please (${name})` });
      const st = await c.nextType("state", (f) => f.state === "agent");
      vs.push({ c, id: welcome.conversation_id, agent: st.agent.id });
    }
    const owned = (id: number) => vs.filter((v) => v.agent === id).map((v) => v.id);
    expect(owned(ann.id).length + owned(ben.id).length).toBe(3);
    const all = vs.map((v) => v.id);
    await expectLists(A.page, { mine: owned(ann.id), queued: [], open: all });
    await expectLists(B.page, { mine: owned(ben.id), queued: [], open: all });

    // Unread: a visitor of Ann's writes twice more while Ann looks at nothing; the list shows 3, opening clears it.
    const va = vs.find((v) => v.agent === ann.id)!;
    va.c.send({ type: "send", client_id: "u-1", text: "are you there?" });
    va.c.send({ type: "send", client_id: "u-2", text: "hello??" });
    await va.c.nextType("ack", (f) => f.client_id === "u-2");
    await A.page.locator(".tab-mine").click();
    const badge = A.page.locator(`.conv-item[data-id="${va.id}"] .badge`);
    await badge.filter({ hasText: "3" }).waitFor({ timeout: 5000 });
    expect(await A.page.locator(".tab-mine .count.hot").count()).toBe(1);
    expect(await A.page.locator(`.conv-item[data-id="${va.id}"] .preview`).textContent()).toBe("hello??");
    await screenshot(A.page, "agent-live-unread");
    await A.page.locator(`.conv-item[data-id="${va.id}"]`).click();
    await badge.waitFor({ state: "detached", timeout: 5000 });
    await expectTranscriptMatches(A.page, s, va.id);

    // Ann replies, then transfers it to Ben: gone from Ann's Mine, in Ben's with the whole history once.
    const box = A.page.locator(".composer textarea");
    await box.fill("Yes, one moment");
    await box.press("Enter");
    await va.c.nextType("message", (f) => f.from === "agent" && f.text === "Yes, one moment");
    await A.page.locator(".action-transfer").selectOption({ label: "Ben (Online, 1/5)" });
    await va.c.nextType("state", (f) => f.state === "agent" && f.agent.id === ben.id);
    va.agent = ben.id;
    await expectLists(A.page, { mine: owned(ann.id), queued: [], open: all });
    await expectLists(B.page, { mine: owned(ben.id), queued: [], open: all });
    await A.page.locator(".composer-locked").waitFor({ timeout: 5000 });
    await open(B.page, va.id);
    await expectTranscriptMatches(B.page, s, va.id);
    expect((await transcript(B.page)).agentTexts).toEqual(["Yes, one moment"]);
    // Ann still has it open: what the visitor writes now reaches her view too, once.
    va.c.send({ type: "send", client_id: "u-3", text: "ok thanks" });
    await A.page.locator(".transcript .msg.from-visitor .bubble", { hasText: "ok thanks" }).waitFor({ timeout: 5000 });
    await expectTranscriptMatches(A.page, s, va.id);
    await expectTranscriptMatches(B.page, s, va.id);

    // Ann takes over one of Ben's from All open.
    const vb = vs.find((v) => v.agent === ben.id && v !== va)!;
    await open(A.page, vb.id);
    await A.page.locator(".action-claim", { hasText: "Take over" }).click();
    await vb.c.nextType("state", (f) => f.state === "agent" && f.agent.id === ann.id);
    vb.agent = ann.id;
    await expectLists(A.page, { mine: owned(ann.id), queued: [], open: all });
    await expectLists(B.page, { mine: owned(ben.id), queued: [], open: all });
    await A.page.locator(".composer textarea").waitFor({ timeout: 5000 });
    await expectTranscriptMatches(A.page, s, vb.id);

    // Ben returns va to the bot and closes another: both leave every list.
    await open(B.page, va.id);
    await B.page.locator(".action-return").click();
    await va.c.nextType("state", (f) => f.state === "bot");
    const vc = vs.find((v) => v.agent === ben.id && v !== va);
    const still = all.filter((id) => id !== va.id);
    if (vc) {
      await open(B.page, vc.id);
      await B.page.locator(".action-close").click();
      await vc.c.nextType("state", (f) => f.state === "closed");
    }
    const left = still.filter((id) => id !== vc?.id);
    await expectLists(A.page, { mine: owned(ann.id).filter((id) => left.includes(id)), queued: [], open: left });
    await expectLists(B.page, { mine: [], queued: [], open: left });

    // Both away: a fourth visitor waits in both queues; Ben claims it: it moves to Ben's Mine, out of Ann's queue.
    await A.page.locator(".presence-away").click();
    await B.page.locator(".presence-away").click();
    await A.page.locator(".presence-away.active").waitFor({ timeout: 5000 });
    await B.page.locator(".presence-away.active").waitFor({ timeout: 5000 });
    await Bun.sleep(200);
    const v4 = await visitor(s.wsUrl, { lang: "en", user: { id: "u4", name: "Yuki" } });
    sockets.push(v4.c);
    v4.c.send({ type: "send", client_id: "h4", text: "human please (Yuki)" });
    await v4.c.nextType("state", (f) => f.state === "queued");
    const q = v4.welcome.conversation_id;
    await expectLists(A.page, { mine: owned(ann.id).filter((id) => left.includes(id)), queued: [q], open: [...left, q] });
    await expectLists(B.page, { mine: [], queued: [q], open: [...left, q] });
    await B.page.locator(".tab-queued").click();
    await B.page.locator(`.conv-item[data-id="${q}"]`).click();
    await B.page.locator(".action-claim", { hasText: "Claim" }).click();
    await v4.c.nextType("state", (f) => f.state === "agent" && f.agent.id === ben.id);
    await expectLists(A.page, { mine: owned(ann.id).filter((id) => left.includes(id)), queued: [], open: [...left, q] });
    await expectLists(B.page, { mine: [q], queued: [], open: [...left, q] });
    await screenshot(B.page, "agent-live-claimed");

    // A restart: both consoles reconnect; a visitor of each writes; nothing is missing or doubled.
    await open(A.page, vb.id);
    await open(B.page, q);
    const port = s.kefu.port;
    await s.stop();
    await A.page.locator(".conn-warning").waitFor({ timeout: 10_000 });
    s = await start(port);
    await A.page.locator(".conn-warning").waitFor({ state: "detached", timeout: 20_000 });
    await B.page.locator(".conn-warning").waitFor({ state: "detached", timeout: 20_000 });
    // Presence survives: both still away.
    expect(await A.page.locator(".presence-away.active").count()).toBe(1);
    const again = async (v: { c: WsClient; id: string }, text: string) => {
      const welcome = v.c.frames.find((f) => f.type === "welcome")!;
      const { c } = await visitor(s.wsUrl, { visitor_id: welcome.visitor_id, token: welcome.token, conversation_id: v.id });
      sockets.push(c);
      c.send({ type: "send", client_id: `again-${v.id}`, text });
      await c.nextType("ack");
      return c;
    };
    await again(vb, "back after the restart (Ann)");
    await again({ c: v4.c, id: q }, "back after the restart (Ben)");
    await A.page.locator(".transcript .msg.from-visitor .bubble", { hasText: "back after the restart (Ann)" }).waitFor({ timeout: 10_000 });
    await B.page.locator(".transcript .msg.from-visitor .bubble", { hasText: "back after the restart (Ben)" }).waitFor({ timeout: 10_000 });
    await expectTranscriptMatches(A.page, s, vb.id);
    await expectTranscriptMatches(B.page, s, q);
    await expectLists(A.page, { mine: owned(ann.id).filter((id) => left.includes(id)), queued: [], open: [...left, q] });
    await expectLists(B.page, { mine: [q], queued: [], open: [...left, q] });
    await screenshot(A.page, "agent-live-after-restart");
    const noisy = (e: string) => /WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(e);
    expect(A.errors.filter((e) => !noisy(e))).toEqual([]);
    expect(B.errors.filter((e) => !noisy(e))).toEqual([]);
  }, 120_000);
});
