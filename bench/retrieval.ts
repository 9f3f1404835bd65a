/**
 * Retrieval latency and import throughput on synthetic knowledge bases.
 *   bun bench/retrieval.ts [sizes=10000,100000] [queries=1000]   (1000: a p99 of 300 queries is the 3rd worst, too noisy)
 * Targets (issue 3): p99 < 10 ms at 10k entries, < 30 ms at 100k; import of 100k < 60 s.
 * Writes bench/results/retrieval-<date>.json and .md.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { percentile } from "../src/kb/eval.ts";
import { KnowledgeBase } from "../src/kb/engine.ts";
import { importText } from "../src/kb/import/apply.ts";
import { formatCsv } from "../src/kb/import/csv.ts";
import { openDatabase } from "../src/storage/database.ts";
import { indexTerms } from "../src/text/tokenize.ts";
import { machineInfo, today } from "./lib/machine.ts";

const sizes = (process.argv[2] ?? "10000,100000").split(",").map(Number);
const nQueries = Number(process.argv[3] ?? 1000);

// Deterministic PRNG so every run measures the same data.
let seed = 42;
const rand = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;

const ZH_SUBJECTS = "订单 退货 退款 发票 快递 物流 账号 密码 会员 积分 优惠券 手机 电脑 耳机 充电器 保修 安装 配送 地址 支付 银行卡 信用卡 余额 提现 价格 库存 尺码 颜色 评价 客服".split(" ");
const ZH_ACTIONS = "怎么 如何 能不能 可以 为什么 什么时候 在哪里 多久 是否 要怎样".split(" ");
const ZH_VERBS = "申请 修改 取消 查询 开通 绑定 解绑 更换 退回 补发 激活 使用 领取 删除 设置".split(" ");
const EN_SUBJECTS = "order refund invoice parcel account password membership points coupon phone laptop headset charger warranty delivery address payment card balance price stock size color review".split(" ");
const EN_VERBS = "change cancel track update reset activate redeem return replace delete check apply".split(" ");
const EN_FORMS = ["how do i {v} my {s}", "can i {v} the {s}", "where to {v} {s}", "why can't i {v} my {s}", "{v} {s} {n}"];

function question(i: number): string {
  if (rand() < 0.6) {
    return `${pick(ZH_ACTIONS)}${pick(ZH_VERBS)}${pick(ZH_SUBJECTS)}${pick(ZH_SUBJECTS)}${i % 97 === 0 ? "" : `第${i % 1000}号`}`;
  }
  return pick(EN_FORMS)
    .replace("{v}", pick(EN_VERBS))
    .replace("{s}", `${pick(EN_SUBJECTS)} ${pick(EN_SUBJECTS)}`)
    .replace("{n}", String(i % 1000));
}

function syntheticCsv(n: number): { csv: string; questions: string[] } {
  const rows = [["id", "question", "answer", "alt_questions"]];
  const questions: string[] = [];
  for (let i = 0; i < n; i++) {
    const q = `${question(i)} ${i}`;
    questions.push(q);
    rows.push([`e${i}`, q, `Answer ${i}: ${pick(ZH_SUBJECTS)} ${pick(EN_SUBJECTS)}.`, [question(i), question(i)].join(" || ")]);
  }
  return { csv: formatCsv(rows), questions };
}

interface SizeResult {
  entries: number;
  import_s: number;
  import_per_s: number;
  queries: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  vector_mode: string;
  /** The first 200 queries again, right after one entry was edited (an admin at work while visitors ask). */
  after_write_p50_ms: number;
  after_write_p99_ms: number;
  /** Same queries as a bare FTS5 lookup over the same terms (no vectors, no re-scoring): the floor. */
  baseline_fts_p50_ms: number;
  baseline_fts_p99_ms: number;
}

const results: SizeResult[] = [];
for (const n of sizes) {
  const { csv, questions } = syntheticCsv(n);
  // The database kefu serves from: a file, opened and tuned as `kefu serve` opens it (an in-memory
  // database hid a 120 µs vector look-up that costs nothing there).
  const dir = await mkdtemp(join(tmpdir(), "kefu-retrieval-"));
  const db = await openDatabase({ dir });
  const kb = await KnowledgeBase.open(db);
  const t0 = performance.now();
  const report = await importText(kb, csv, { format: "csv", skipInvalid: true });
  const importS = (performance.now() - t0) / 1000;
  if (report.counts.added !== n) throw new Error(`expected ${n} added, got ${report.counts.added} (${report.rejected.length} rejected)`);
  // Queries: entry questions with a word dropped or added, plus unrelated text.
  const qs: string[] = [];
  for (let i = 0; i < nQueries; i++) {
    const q = pick(questions);
    qs.push(i % 5 === 4 ? `${pick(EN_VERBS)} weather forecast ${i}` : i % 2 ? q.slice(0, Math.max(4, q.length - 3)) : `请问${q}`);
  }
  for (const q of qs.slice(0, 20)) await kb.search(q); // warm-up: statement caches, JIT
  const times: number[] = [];
  for (const q of qs) {
    const t = performance.now();
    await kb.search(q);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  await kb.upsert([{ id: "e1", question: `${questions[1]} (edited)`, answer: "Edited answer." }]);
  const afterWrite: number[] = [];
  for (const q of qs.slice(0, 200)) {
    const t = performance.now();
    await kb.search(q);
    afterWrite.push(performance.now() - t);
  }
  afterWrite.sort((a, b) => a - b);
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  // Baseline in the same run: what SQLite's full-text index alone costs for these queries.
  db.run("CREATE VIRTUAL TABLE base_fts USING fts5(terms, tokenize='unicode61 remove_diacritics 0')");
  const ins = db.prepare("INSERT INTO base_fts(terms) VALUES (?)");
  db.transaction(() => {
    for (const e of kb.all()) ins.run([e.question, ...e.alts].map((p) => indexTerms(p).join(" ")).join(" "));
  })();
  const baseQuery = db.prepare("SELECT rowid FROM base_fts WHERE base_fts MATCH ? ORDER BY rank LIMIT 10");
  const baseTimes: number[] = [];
  for (const q of qs) {
    const t = performance.now();
    const terms = [...new Set(indexTerms(q))].slice(0, 24);
    if (terms.length) baseQuery.all(terms.map((x) => `"${x}"`).join(" OR "));
    baseTimes.push(performance.now() - t);
  }
  baseTimes.sort((a, b) => a - b);
  results.push({
    entries: n,
    import_s: Math.round(importS * 100) / 100,
    import_per_s: Math.round(n / importS),
    queries: qs.length,
    p50_ms: r3(percentile(times, 50)),
    p90_ms: r3(percentile(times, 90)),
    p99_ms: r3(percentile(times, 99)),
    max_ms: r3(times.at(-1)!),
    after_write_p50_ms: r3(percentile(afterWrite, 50)),
    after_write_p99_ms: r3(percentile(afterWrite, 99)),
    vector_mode: n <= 5_000 ? "exact float" : "sign-bit prefilter + float rescore",
    baseline_fts_p50_ms: r3(percentile(baseTimes, 50)),
    baseline_fts_p99_ms: r3(percentile(baseTimes, 99)),
  });
  console.log(JSON.stringify(results.at(-1)));
  db.close();
  await rm(dir, { recursive: true, force: true });
}

const machine = machineInfo();
const dir = `${import.meta.dir}/results`;
await mkdir(dir, { recursive: true });
const name = `${dir}/retrieval-${today()}`;
await Bun.write(`${name}.json`, `${JSON.stringify({ machine, results }, null, 2)}\n`);
await Bun.write(
  `${name}.md`,
  [
    `# Retrieval benchmark, ${machine.date.slice(0, 10)}`,
    "",
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, ${machine.os}, Bun ${machine.bun}.`,
    "Synthetic mixed Chinese/English FAQ, 3 phrasings per entry, imported from CSV through the import pipeline (validation, near-duplicate scan, one transaction); SQLite file opened as `kefu serve` opens it (WAL, synchronous FULL).",
    "Baseline, same run and queries: a bare FTS5 lookup over the same terms (no vectors, no re-scoring, no confidence), the floor of any full-text retrieval here.",
    "",
    "After a write: the first 200 queries again, right after one entry was edited (p50 / p99).",
    "",
    "| entries | import s | entries/s | queries | p50 ms | p90 ms | p99 ms | max ms | after a write ms | vector search | baseline: bare FTS5 p50 / p99 ms |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...results.map(
      (r) =>
        `| ${r.entries} | ${r.import_s} | ${r.import_per_s} | ${r.queries} | ${r.p50_ms} | ${r.p90_ms} | ${r.p99_ms} | ${r.max_ms} | ${r.after_write_p50_ms} / ${r.after_write_p99_ms} | ${r.vector_mode} | ${r.baseline_fts_p50_ms} / ${r.baseline_fts_p99_ms} |`,
    ),
    "",
  ].join("\n"),
);
console.log(`wrote ${name}.json and ${name}.md`);
