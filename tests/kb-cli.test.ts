import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliEntry, startTestServer } from "./helpers/server";

const dir = mkdtempSync(join(tmpdir(), "kefu-kbcli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, "config.toml");
writeFileSync(config, `[storage]\ndir = "${join(dir, "data")}"\n[log]\nlevel = "warn"\n`);

async function kefu(...args: string[]) {
  const p = Bun.spawn([process.execPath, cliEntry, ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

const CSV_BOTH =
  'id,question,answer,alt_questions\nret,怎么退货？,签收后7天内可以退货。,我要退货 || 退货流程\nship,How long does shipping take?,"Two to four days, usually.",delivery time\n';

describe("kefu import / ask / eval", () => {
  test("import: dry run writes nothing, the real import upserts by id, a second import changes nothing", async () => {
    const csv = file("faq.csv", CSV_BOTH);
    const dry = await kefu("import", csv, "--dry-run", "-c", config);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("dry run, nothing written: 2 added");
    const ask0 = JSON.parse((await kefu("ask", "退货", "--json", "-c", config)).stdout);
    expect(ask0.path).not.toBe("direct");

    const real = await kefu("import", csv, "-c", config);
    expect(real.stdout).toContain("imported: 2 added, 0 updated, 0 unchanged, 0 rejected");
    const again = await kefu("import", csv, "--json", "-c", config);
    expect(JSON.parse(again.stdout).counts).toMatchObject({ added: 0, updated: 0, unchanged: 2 });
  });

  test("import: a file with a bad record changes nothing and exits 1, unless --skip-invalid", async () => {
    const bad = file("bad.csv", "id,question,answer,alt_questions\nok1,What is kefu?,A customer-service server.,\nbad1,,An answer without a question,\n");
    const r = await kefu("import", bad, "-c", config);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("nothing imported");
    expect(r.stdout).toMatch(/line 3: .*question/i);
    const ask = JSON.parse((await kefu("ask", "What is kefu?", "--json", "-c", config)).stdout);
    expect(ask.matches.map((m: { id: string }) => m.id)).not.toContain("ok1");
    const skip = await kefu("import", bad, "--skip-invalid", "-c", config);
    expect(skip.stdout).toContain("1 added");
  });

  test("import --replace: --dry-run lists what the file lacks and writes nothing; the real one deletes it", async () => {
    // The knowledge base holds ret and ship (first test), ok1 (--skip-invalid).
    const only = file("only.csv", "id,question,answer\nship,How long does shipping take?,\"Two to four days, usually.\"\n");
    const dry = await kefu("import", only, "--replace", "--dry-run", "-c", config);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("dry run, nothing written: 0 added, 1 updated, 0 unchanged, 2 deleted, 0 rejected");
    expect(dry.stdout).toContain("delete ret: 怎么退货?");
    expect(dry.stdout).toContain("update line 2 ship: alt_questions");
    const json = JSON.parse((await kefu("import", only, "--replace", "--dry-run", "--json", "-c", config)).stdout);
    expect(json).toMatchObject({ mode: "replace", dry_run: true, applied: false });
    expect(json.deleted.map((d: { id: string }) => d.id)).toEqual(["ret", "ok1"]);
    expect(JSON.parse((await kefu("ask", "退货", "--json", "-c", config)).stdout).sources[0]?.id).toBe("ret");

    const real = await kefu("import", only, "--replace", "--json", "-c", config);
    const report = JSON.parse(real.stdout);
    expect(report).toMatchObject({ applied: true, counts: { deleted: 2, updated: 1 } });
    const again = JSON.parse((await kefu("import", only, "--replace", "--json", "-c", config)).stdout);
    expect(again).toMatchObject({ counts: { deleted: 0, unchanged: 1 }, version: report.version });
    // Put the entries back for the tests below.
    await kefu("import", file("faq.csv", CSV_BOTH), "-c", config);
  }, 30_000);

  test("ask: Chinese without spaces, a two-character keyword and mixed scripts find the returns entry verbatim", async () => {
    for (const q of ["怎么退货", "退货", "iPhone 怎么退货"]) {
      const r = JSON.parse((await kefu("ask", q, "--json", "-c", config)).stdout);
      expect({ q, path: r.path, answer: r.answer, source: r.sources[0]?.id }).toEqual({ q, path: "direct", answer: "签收后7天内可以退货。", source: "ret" });
    }
    const en = JSON.parse((await kefu("ask", "how many days for delivery?", "--json", "-c", config)).stdout);
    expect(en.sources[0]?.id).toBe("ship");
  });

  test("ask: usage errors exit 2", async () => {
    expect((await kefu("ask", "-c", config)).code).toBe(2);
    expect((await kefu("ask", "hi", "--lang", "fr", "-c", config)).code).toBe(2);
  });

  test("eval --json reports the issue's keys for queries and for pairs", async () => {
    const kb = file(
      "kb.csv",
      "id,question,answer,alt_questions\nrefund,how do i get a refund,A,refund please || i want my money back || return money\nhours,when are you open,B,opening hours || what time do you open || are you open on sunday\n",
    );
    const queries = file(
      "q.jsonl",
      ['{"query":"i want a refund","expected":"refund"}', '{"query":"what time do you open today","expected":"hours"}', '{"query":"tell me a joke about cats","expected":null}'].join("\n"),
    );
    const r = await kefu("eval", "--kb", kb, "--queries", queries, "--json", "-c", config);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(Object.keys(report).sort()).toEqual([
      "auc",
      "coverage_at_p90",
      "direct_coverage",
      "direct_precision",
      "false_direct_rate",
      "mrr",
      "n",
      "oos_accuracy",
      "p50_ms",
      "p99_ms",
      "suggest_hit_rate",
      "top1",
      "top3",
    ]);
    expect(report).toMatchObject({ n: 3, top1: 1, auc: null });
    expect(report.oos_accuracy).toBeGreaterThan(0.6);

    const pairs = file("p.tsv", "text_a\ttext_b\tlabel\n怎么退货\t如何退货\t1\n怎么退货\t发票怎么开\t0\n运费多少\t邮费多少钱\t1\n运费多少\t几点开门\t0\n");
    const p = JSON.parse((await kefu("eval", "--pairs", pairs, "--json")).stdout);
    expect(p).toMatchObject({ n: 4, top1: null, auc: 1 });
    expect((await kefu("eval", "--kb", kb)).code).toBe(2);
  });
});

describe("kefu init --no-demo", () => {
  test("the knowledge base starts empty and the server never loads the demo into it", async () => {
    const site = join(dir, "site-no-demo");
    const r = await kefu("init", site, "--no-demo");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("no demo knowledge");
    const s = await startTestServer({ log: { level: "warn" } }, site);
    try {
      expect(s.kefu.ctx.kb.count()).toBe(0);
    } finally {
      await s.stop();
    }
    // Without the flag a new site gets the demo (the quick start's working bot).
    const demo = await kefu("init", join(dir, "site-demo"));
    expect(demo.stdout).toMatch(/loaded \d+ demo questions/);
  }, 30_000);
});
