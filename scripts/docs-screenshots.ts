/**
 * Takes the screenshots in docs/images (needs Chromium, see tests/browser/helpers.ts):
 * `bun scripts/docs-screenshots.ts` for all, `… widget` or `… admin` for one front end.
 */
import { join, resolve } from "node:path";
import { makeAdmin, nav, openAdmin } from "../tests/browser/admin-helpers";
import { type Browser, launchBrowser } from "../tests/browser/helpers";
import { startTestServer, type TestServer } from "../tests/helpers/server";
import { cid, makeAgent, visitor } from "../tests/helpers/ws-client";

const out = resolve(import.meta.dir, "../docs/images");
const only = process.argv[2];

async function widgetShots(s: TestServer, browser: Browser) {
  const page = await browser.newPage({ viewport: { width: 1000, height: 720 }, deviceScaleFactor: 1 });
  await page.goto(`${s.url}/`);
  await page.locator("#kefu-widget >> .launcher").click();
  for (const q of ["运费怎么算？", "How do I return an item?"]) {
    await page.locator("#kefu-widget >> textarea.input").fill(q);
    await page.locator("#kefu-widget >> textarea.input").press("Enter");
    await page.locator("#kefu-widget >> .msg.from-bot").nth(q.startsWith("How") ? 1 : 0).waitFor({ timeout: 10_000 });
  }
  await page.screenshot({ path: join(out, "widget.png") });
  console.log(`wrote ${join(out, "widget.png")}`);
  await page.close();
}

/** Visitors with questions the demo knowledge base answers and some it cannot, one answered by an agent. */
async function seedTraffic(s: TestServer) {
  const agent = await makeAgent(s, { name: "lin", displayName: "小林" });
  const questions = ["运费怎么算？", "How do I return an item?", "怎么取消订单", "Can I pay with seashells?", "能开增值税专用发票吗？", "能开增值税专票吗", "Do you sell replacement lids for the 1998 teapot?"];
  for (const text of questions) {
    const { c, welcome } = await visitor(s.wsUrl, { lang: /[a-z]/i.test(text) ? "en" : "zh" });
    c.send({ type: "send", client_id: cid(), text });
    await c.nextType("message", (f) => f.from === "bot");
    if (text.startsWith("Do you sell replacement")) {
      const call = (path: string, body: unknown) =>
        fetch(`${s.url}/api/agent/conversations/${welcome.conversation_id}${path}`, { method: "POST", headers: { authorization: `Bearer ${agent.token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
      await call("/claim", {});
      const r = await call("/messages", { text: "Yes: lids for the 1998 teapot are 35 yuan, under Spare parts in the shop." });
      if (!r.ok) throw new Error(`agent reply: ${r.status} ${await r.text()}`);
    }
    c.close();
  }
}

/**
 * Two weeks of made-up history written straight into the database (conversations, messages, handoffs, ratings
 * and the answer log), so the dashboard has days to draw. Deterministic: the same picture on every run.
 */
function seedHistory(s: TestServer, agentId: number) {
  const db = s.kefu.ctx.db;
  let seed = 7;
  const rnd = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const H = 3_600_000;
  const now = Date.now();
  const paths: [string, number][] = [["direct", 46], ["cache", 18], ["choices", 10], ["llm", 14], ["human", 6], ["fallback", 6]];
  const latency: Record<string, number> = { direct: 40, cache: 4, choices: 60, llm: 1800, human: 90_000, fallback: 50 };
  const pathOf = () => {
    let r = rnd() * 100;
    for (const [p, w] of paths) if ((r -= w) < 0) return p;
    return "direct";
  };
  // Questions the demo answers (direct, cache) and ones it cannot (the rest): those fill Unanswered.
  const answered = ["运费怎么算", "多久发货", "How do I return an item?", "怎么退货", "Where is my order?", "能改地址吗"];
  const unanswered = ["能开增值税专票吗", "能开增值税专用发票吗", "可以用花呗分期吗", "周末发货吗", "Do you have a shop in Shanghai?", "包裹里能不放发票吗"];
  for (let d = 13; d >= 1; d--) {
    const n = 8 + Math.floor(rnd() * 14) + (d % 7 < 2 ? 6 : 0);
    for (let i = 0; i < n; i++) {
      const id = `hist-${d}-${i}`;
      const at = now - d * 24 * H + Math.floor(rnd() * 10 * H);
      const handoff = rnd() < 0.15 ? pick(["keyword", "visitor", "bot_misses", "off_hours"]) : null;
      const rating = rnd() < 0.3 ? pick([3, 4, 4, 5, 5, 5, 2]) : null;
      db.run("INSERT INTO chat_visitors (id, token_hash, lang, created_at, last_seen_at) VALUES (?, ?, 'zh', ?, ?)", [`v-${id}`, `hash-${id}`, at, at]);
      db.run(
        "INSERT INTO chat_conversations (id, visitor_id, state, agent_id, lang, created_at, updated_at, closed_at, tags, rating_score, rated_at, last_seq, last_visitor_seq) VALUES (?, ?, 'closed', ?, 'zh', ?, ?, ?, '[]', ?, ?, ?, 1)",
        [id, `v-${id}`, handoff ? agentId : null, at, at + 120_000, at + 120_000, rating, rating ? at + 120_000 : null, handoff ? 5 : 3],
      );
      const path = pathOf();
      const q = pick(path === "direct" || path === "cache" ? answered : unanswered);
      const rows: [string, string, string | null][] = [["visitor", q, null], ["bot", "…", null]];
      if (handoff) rows.push(["system", "queued", JSON.stringify({ state: "queued", reason: handoff })], ["system", "agent", JSON.stringify({ state: "agent", reason: "auto" })]);
      rows.push(["system", "closed", JSON.stringify({ state: "closed", reason: "close" })]);
      rows.forEach(([sender, text, meta], k) =>
        db.run("INSERT INTO chat_messages (conversation_id, seq, kind, sender, text, meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", [id, k + 1, meta ? "state" : "text", sender, text, meta, at + k * 1000]),
      );
      db.run("INSERT INTO insights_answers (source, conversation_id, visitor_seq, reply_seq, question, path, entry_id, confidence, latency_ms, created_at) VALUES ('chat', ?, 1, 2, ?, ?, NULL, 0.5, ?, ?)", [
        id,
        q,
        path,
        Math.round(latency[path]! * (0.5 + rnd() * 1.5)),
        at,
      ]);
    }
  }
}

async function adminShots(s: TestServer, browser: Browser) {
  await makeAdmin(s);
  await seedTraffic(s);
  seedHistory(s, (await s.kefu.ctx.auth.users.list()).find((u) => u.name === "lin")!.id);
  const { page, context } = await openAdmin(browser, s.url, "boss", { viewport: { width: 1280, height: 800 } });
  /** The console's main pane scrolls inside the window: a tall shot needs a tall window. */
  const shot = async (name: string, height = 800) => {
    await page.setViewportSize({ width: 1280, height });
    await page.waitForTimeout(600);
    await page.screenshot({ path: join(out, `admin-${name}.png`) });
    console.log(`wrote ${join(out, `admin-${name}.png`)}`);
  };
  await nav(page, "dashboard");
  await page.locator(".dashboard-stats").waitFor({ timeout: 10_000 });
  await shot("dashboard", 1240);
  await nav(page, "kb");
  await shot("kb");
  await nav(page, "batch");
  await page.locator("textarea[name=cases]").fill("运费怎么算,demo-shipping-fee-zh\nHow do I return an item?,demo-returns-en\n今天天气怎么样,\nwhere is my parcel,demo-delivery-time-en\n可以退款吗,demo-refund-time-zh");
  await page.locator("input[name=name]").fill("baseline");
  await page.locator("button.run-batch").click();
  await page.locator(".batch-result").waitFor({ timeout: 30_000 });
  await shot("batch");
  await nav(page, "thresholds");
  await page.locator(".est-precision").waitFor({ timeout: 10_000 });
  await shot("thresholds");
  await nav(page, "hit");
  await page.locator("input.hit-q").fill("快递要几天");
  await page.locator(".hit-form button[type=submit]").click();
  await page.locator(".hit-result").waitFor({ timeout: 10_000 });
  await shot("hit-test");
  await nav(page, "unanswered");
  await page.locator(".group .agent-reply").first().waitFor({ timeout: 10_000 });
  await shot("unanswered", 1100);
  await nav(page, "conversations");
  await page.locator(".conversations tbody tr").first().click();
  await page.locator(".transcript-panel .bubble").first().waitFor({ timeout: 10_000 });
  await shot("conversation");
  await nav(page, "team");
  await shot("team");
  // A replace-mode import's preview (not applied): what it adds and the demo entries it would delete.
  await nav(page, "import");
  const csv = "id,question,answer,alt_questions,tags,enabled\nhz-delivery,Do you deliver to Hangzhou?,Yes: 2 days by SF Express.,Can you ship to Hangzhou?,shipping,true\ngift-wrap,Do you offer gift wrapping?,Gift wrapping costs 10 yuan.,,orders,true\n";
  await page.locator("input[type=file]").setInputFiles({ name: "shop.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.locator("input[name=mode][value=replace]").check();
  await page.locator("button.preview").click();
  await page.locator(".import-report.dry-run").waitFor({ timeout: 10_000 });
  await shot("import-preview");
  await context.close();
}

const s = await startTestServer({ log: { level: "warn" } });
const browser = await launchBrowser();
try {
  if (only !== "admin") await widgetShots(s, browser);
  if (only !== "widget") await adminShots(s, browser);
} finally {
  await browser.close();
  await s.stop();
}
