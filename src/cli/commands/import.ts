import { importFile, type ImportReport } from "../../kb/import/apply";
import type { ImportFormat } from "../../kb/import/formats";
import { cliActor, createAuditStore } from "../../ops/audit/store";
import { openKnowledge } from "../open";
import { configFlag, parseFlags, UsageError, type Command } from "../command";

const formats = ["csv", "xlsx", "json", "jsonl", "markdown", "document"];

export const importCommand: Command = {
  name: "import",
  summary: "import knowledge from CSV, Excel (.xlsx), JSON(L), Markdown FAQ or documents",
  usage: `Usage: kefu import <file> [--format csv|xlsx|json|jsonl|markdown|document] [--replace] [--dry-run] [--skip-invalid] [--json] [-c config.toml]

Upserts entries by id (CSV header id,question,answer,alt_questions,tags,enabled; the
Chinese headers 编号,问题,答案,相似问法,标签,启用 work too; alternatives separated by
" || " or new lines; an Excel workbook's first sheet has the same columns), or adds a
document split into chunks. The format is taken from the file extension unless given
(.md is a Markdown FAQ: heading = question, body = answer; use --format document for
prose). --replace also deletes every entry the file
lacks (documents stay), in the same transaction. A file with a rejected record changes
nothing unless --skip-invalid is given. --dry-run reports what would change (with
--replace: what would be deleted). Importing a file that changes nothing leaves the
knowledge-base version (and the answer cache) alone. Files are UTF-8, or GBK/GB18030
(Excel's CSV on a Chinese Windows). Exit code 1 when records were rejected.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      ...configFlag,
      format: { type: "string" },
      replace: { type: "boolean" },
      "dry-run": { type: "boolean" },
      "skip-invalid": { type: "boolean" },
      json: { type: "boolean" },
    });
    const file = positionals[0];
    if (!file) throw new UsageError("kefu import needs a file");
    if (values.format && !formats.includes(values.format)) throw new UsageError(`--format must be one of ${formats.join(", ")}`);
    const { kb, db, sql, config } = await openKnowledge(values.config);
    try {
      const report = await importFile(kb, file, {
        format: values.format as ImportFormat | undefined,
        mode: values.replace ? "replace" : "upsert",
        dryRun: values["dry-run"] ?? false,
        skipInvalid: values["skip-invalid"] ?? false,
        chunk: { size: config.kb.chunk_size, overlap: config.kb.chunk_overlap },
      });
      const { counts } = report;
      if (report.applied && !report.dry_run) {
        await createAuditStore(sql).record({
          actor: cliActor(),
          action: "kb.import",
          target: file,
          detail: { mode: report.mode, added: counts.added, updated: counts.updated, deleted: counts.deleted, rejected: counts.rejected, documents: report.documents.length },
        });
      }
      if (values.json) console.log(JSON.stringify(report, null, 2));
      else printReport(report);
      return counts.rejected ? 1 : 0;
    } finally {
      db.close();
    }
  },
};

function printReport(report: ImportReport): void {
  const { counts } = report;
  const head = report.dry_run ? "dry run, nothing written:" : report.applied ? "imported:" : "nothing imported:";
  const deleted = report.mode === "replace" ? `, ${counts.deleted} deleted` : "";
  console.log(`${head} ${counts.added} added, ${counts.updated} updated, ${counts.unchanged} unchanged${deleted}, ${counts.rejected} rejected`);
  const some = <T>(list: T[], n: number, line: (x: T) => string) => {
    for (const x of list.slice(0, n)) console.log(line(x));
    if (list.length > n) console.log(`  ... and ${list.length - n} more`);
  };
  some(report.updated, 20, (u) => `  update line ${u.line} ${u.id}: ${u.fields.join(", ")}`);
  some(report.deleted, 20, (d) => `  delete ${d.id}: ${d.question}`);
  for (const d of report.documents) console.log(`  document ${d.id}: ${d.action}, ${d.chunks} chunks`);
  some(report.rejected, 50, (r) => `  line ${r.line}: ${r.error}`);
  some(report.near_duplicates, 20, (n) => `  near-duplicate: line ${n.line} "${n.question}" (${n.id}) ~ "${n.other_question}" (${n.other_id})`);
  if (report.reason) console.log(`  ${report.reason}`);
}
