/**
 * What the widget does with the bot's reply shapes, driven by a scripted bot: a streamed draft that is
 * reset and streamed again, sources as links (only http(s)), "did you mean" choices as buttons, typing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Bot, BotEvent } from "../../src/chat/bot";
import { startChatServer } from "../helpers/ws-client";
import type { TestServer } from "../helpers/server";
import { type Browser, launchBrowser, noBrowser, screenshot } from "./helpers";

const W = "#kefu-widget >> ";

/** A gate the test opens to let the bot go on, so the page can be looked at mid-stream. */
function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

describe.skipIf(noBrowser)("bot replies in the widget", () => {
  let browser: Browser;
  let s: TestServer;
  const gates = { first: gate(), second: gate() };
  const bot: Bot = {
    async *reply(input) {
      if (input.text.includes("stream")) {
        yield { type: "delta", text: "Draft that " };
        await gates.first.p;
        yield { type: "reset" };
        yield { type: "delta", text: "Second " };
        await gates.second.p;
        yield { type: "delta", text: "try." };
        yield {
          type: "answer",
          text: "Second try.",
          confident: true,
          sources: [
            { id: "guide", title: "Returns guide", url: "https://shop.example.com/returns" },
            { id: "evil", title: "Click me", url: "javascript:window.__xss=1" },
          ],
        } satisfies BotEvent;
        return;
      }
      // Shaped like the answer pipeline's did-you-mean: the choices are listed in the text and as sources too.
      yield {
        type: "answer",
        text: 'Did you mean one of these? Tap one:\n1. How do I return an item?\n2. How much is shipping?\nOr type "human" to talk to a person.',
        confident: false,
        choices: [{ entry_id: "demo-returns-en", question: "How do I return an item?" }, { entry_id: "demo-shipping-fee-en", question: "How much is shipping?" }],
        sources: [{ id: "demo-returns-en", title: "How do I return an item?" }, { id: "demo-shipping-fee-en", title: "How much is shipping?" }],
      };
    },
    async choose(entryId) {
      return entryId === "demo-returns-en" ? { text: "Returns: within 7 days.", sources: [{ id: "demo-returns-en", title: "How do I return an item?" }] } : null;
    },
  };
  beforeAll(async () => {
    s = await startChatServer({}, bot);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  test("a streamed draft shows as it comes, a reset drops it, the final message replaces it; sources link only to http(s)", async () => {
    const page = await browser.newPage();
    await page.goto(`${s.url}/chat`);
    await page.locator(`${W}textarea.input`).fill("please stream");
    await page.locator(`${W}textarea.input`).press("Enter");
    const draft = page.locator(`${W}.msg.draft .bubble`);
    await draft.waitFor({ timeout: 10_000 });
    expect(await draft.textContent()).toBe("Draft that ");
    gates.first.open();
    await page.locator(`${W}.msg.draft .bubble`, { hasText: "Second" }).waitFor({ timeout: 10_000 });
    expect(await page.locator(`${W}.msg.draft`).count()).toBe(1);
    expect(await draft.textContent()).toBe("Second ");
    gates.second.open();
    await page.locator(`${W}.msg.from-bot:not(.draft) .bubble`).waitFor({ timeout: 10_000 });
    expect(await page.locator(`${W}.msg.from-bot .bubble`).allTextContents()).toEqual(["Second try."]);
    expect(await page.locator(`${W}.msg.draft`).count()).toBe(0);
    const links = await page.locator(`${W}.sources a`).evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute("href"), a.getAttribute("rel")]));
    expect(links).toEqual([["Returns guide", "https://shop.example.com/returns", "noopener noreferrer nofollow"]]);
    expect(await page.locator(`${W}.sources li`).allTextContents()).toEqual(["Returns guide", "Click me"]);
    await page.close();
  }, 60_000);

  test("choices are buttons: a click asks that entry and gets its answer", async () => {
    const page = await browser.newPage();
    await page.goto(`${s.url}/chat`);
    await page.locator(`${W}textarea.input`).fill("something vague");
    await page.locator(`${W}textarea.input`).press("Enter");
    const choice = page.locator(`${W}button.choice`, { hasText: "How do I return an item?" });
    await choice.waitFor({ timeout: 10_000 });
    expect(await page.locator(`${W}button.choice`).count()).toBe(2);
    // Shown once, as buttons: not also as numbered lines of the text or as sources.
    expect(await page.locator(`${W}.msg.from-bot .bubble`).first().textContent()).toBe('Did you mean one of these? Tap one:\nOr type "human" to talk to a person.');
    expect(await page.locator(`${W}.sources`).count()).toBe(0);
    await screenshot(page, "widget-choices");
    await choice.click();
    await page.locator(`${W}.msg.from-bot .bubble`, { hasText: "Returns: within 7 days." }).waitFor({ timeout: 10_000 });
    expect(await page.locator(`${W}.msg.from-visitor .bubble`).allTextContents()).toEqual(["something vague", "How do I return an item?"]);
    await page.close();
  }, 60_000);
});
