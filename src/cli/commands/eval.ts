import { readFile } from "node:fs/promises";
import { loadConfig } from "../../config/load";
import { type EvalReport, evalPairs, evalQueries } from "../../kb/eval";
import { configFlag, parseFlags, UsageError, type Command } from "../command";
import { memoryDatabaseFactory } from "../open";

export const evalCommand: Command = {
  name: "eval",
  summary: "measure matching quality on a knowledge base and labelled queries or pairs",
  usage: `Usage:
  kefu eval --kb <kb.csv> --queries <queries.jsonl> [--json] [-c config.toml]
  kefu eval --pairs <pairs.tsv> [--json]

Loads the knowledge base into a temporary in-memory database and runs every query
through retrieval and the configured thresholds ([kb] direct): top-1, top-3, MRR
(queries with an expected id), oos_accuracy (share of all queries handled right:
in-scope answered with the expected entry at or above direct, out-of-scope declined)
and latency p50/p99 per query. --pairs scores question pairs (text_a, text_b, label)
and reports ROC AUC. --json prints one object with n, top1, top3, mrr, oos_accuracy,
auc, p50_ms, p99_ms (absent figures as null). Your own database is not touched.`,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      { ...configFlag, kb: { type: "string" }, queries: { type: "string" }, pairs: { type: "string" }, json: { type: "boolean" } },
      false,
    );
    const { config } = loadConfig({ path: values.config });
    const openDatabase = await memoryDatabaseFactory();
    const thresholds = { direct: config.kb.direct, suggest: config.kb.suggest };
    let report: EvalReport;
    if (values.pairs) {
      if (values.kb || values.queries) throw new UsageError("use either --pairs or --kb with --queries");
      report = await evalPairs(await read(values.pairs), { openDatabase, thresholds });
    } else {
      if (!values.kb || !values.queries) throw new UsageError("kefu eval needs --kb and --queries, or --pairs");
      report = await evalQueries(await read(values.kb), await read(values.queries), { openDatabase, thresholds });
    }
    if (values.json) {
      console.log(JSON.stringify(report));
      return 0;
    }
    const pct = (x: number | null) => (x === null ? "-" : `${(x * 100).toFixed(1)}%`);
    const num = (x: number | null, d = 3) => (x === null ? "-" : x.toFixed(d));
    console.log(`n ${report.n}   top-1 ${pct(report.top1)}   top-3 ${pct(report.top3)}   MRR ${num(report.mrr)}   oos_accuracy ${pct(report.oos_accuracy)}   AUC ${num(report.auc)}`);
    console.log(`latency per query: p50 ${num(report.p50_ms, 2)} ms, p99 ${num(report.p99_ms, 2)} ms   (direct threshold ${thresholds.direct})`);
    return 0;
  },
};

async function read(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
