import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../storage/database";
import { createSqliteSql } from "../storage/sqlite-driver";
import { createAnswerLog } from "./answer-log";
import { unansweredGroups } from "./unanswered";

const dir = mkdtempSync(join(tmpdir(), "kefu-unanswered-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("grouping: same canonical phrasing, then weighted token Jaccard; filler words shared by every question do not join groups", async () => {
  const db = await openDatabase({ dir });
  const sql = createSqliteSql(db);
  const log = createAnswerLog(sql);
  const questions = [
    "怎么开发票",
    "发票怎么开？",
    "发票 怎么开",
    "怎么开增值税发票",
    "do you have gift wrapping?",
    "Do you have gift wrapping",
    "do you have gift wrapping for presents",
    "do you have gift cards?",
    "do you have a store in Berlin?",
    "怎么退货",
  ];
  for (const [i, question] of questions.entries()) {
    await log.record({ source: "api", conversationId: null, visitorSeq: null, replySeq: null, question, path: "fallback", confidence: 0.1, latencyMs: 5 }, 1_000 + i);
  }
  await log.record({ source: "api", conversationId: null, visitorSeq: null, replySeq: null, question: "怎么开发票", path: "direct", confidence: 0.9, latencyMs: 5 }, 2_000);
  const groups = (await unansweredGroups(sql, { since: 0 })).map((g) => ({ count: g.count, phrasings: g.phrasings.map((p) => `${p.text}×${p.count}`).sort() }));
  expect(groups).toEqual([
    { count: 3, phrasings: ["Do you have gift wrapping×2", "do you have gift wrapping for presents×1"] },
    { count: 3, phrasings: ["发票 怎么开×2", "怎么开发票×1"] },
    { count: 1, phrasings: ["怎么退货×1"] },
    { count: 1, phrasings: ["do you have a store in Berlin?×1"] },
    // "do you have gift …" is shared, but "cards" is what this one asks about.
    { count: 1, phrasings: ["do you have gift cards?×1"] },
    { count: 1, phrasings: ["怎么开增值税发票×1"] },
  ]);
  // The window: rows before `since` are not read; a direct answer is never unanswered.
  expect((await unansweredGroups(sql, { since: 1_005 })).reduce((n, g) => n + g.count, 0)).toBe(5);
  expect(await unansweredGroups(sql, { since: 0, limit: 2 })).toHaveLength(2);
  expect(await unansweredGroups(sql, { since: 0, source: "chat" })).toEqual([]);
  expect(await unansweredGroups(sql, { since: 0, source: "api" })).toHaveLength(6);
  db.close();
});

test("short Chinese questions: characters count next to bigrams, so rewordings meet and different asks stay apart", async () => {
  const db = await openDatabase({ dir: mkdtempSync(join(dir, "zh-")) });
  const sql = createSqliteSql(db);
  const log = createAnswerLog(sql);
  const questions = ["周末发货吗", "周末能发货吗", "周末退货吗", "能用花呗吗", "可以用花呗分期吗", "能开增值税专票吗", "能开增值税专用发票吗", "可以退货吗"];
  for (const [i, question] of questions.entries()) {
    await log.record({ source: "api", conversationId: null, visitorSeq: null, replySeq: null, question, path: "fallback", confidence: 0.1, latencyMs: 5 }, 1_000 + i);
  }
  const groups = (await unansweredGroups(sql, { since: 0 })).map((g) => g.phrasings.map((p) => p.text).sort());
  expect(groups.sort()).toEqual(
    [["周末发货吗", "周末能发货吗"], ["周末退货吗"], ["可以用花呗分期吗", "能用花呗吗"], ["能开增值税专用发票吗", "能开增值税专票吗"], ["可以退货吗"]].sort(),
  );
  db.close();
});
