import { importFile } from "../../kb/import/apply";
import type { ImportFormat } from "../../kb/import/formats";
import { cliActor, createAuditStore } from "../../ops/audit/store";
import { openKnowledge } from "../open";
import { configFlag, parseFlags, UsageError, type Command } from "../command";

const formats = ["csv", "json", "jsonl", "markdown", "document"];

export const importCommand: Command = {
  name: "import",
  summary: "import knowledge from CSV, JSON(L), Markdown FAQ or documents",
  usage: `Usage: kefu import <file> [--format csv|json|jsonl|markdown|document] [--dry-run] [--skip-invalid] [--json] [-c config.toml]

Upserts entries by id (CSV header id,question,answer,alt_questions; Chinese headers
问题,答案,相似问题 work too; alternatives separated by " || " or new lines), or adds a
document split into chunks. The format is taken from the file extension unless given
(.md is a Markdown FAQ: heading = question, body = answer; use --format document for
prose). A file with a rejected record changes nothing unless --skip-invalid is given.
--dry-run reports what would change. Exit code 1 when records were rejected.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      ...configFlag,
      format: { type: "string" },
      "dry-run": { type: "boolean" },
      "skip-invalid": { type: "boolean" },
      json: { type: "boolean" },
    });
    const file = positionals[0];
    if (!file) throw new UsageError("kefu import needs a file");
    if (values.format && !formats.includes(values.format)) throw new UsageError(`--format must be one of ${formats.join(", ")}`);
    const { kb, db, config } = await openKnowledge(values.config);
    try {
      const report = await importFile(kb, file, {
        format: values.format as ImportFormat | undefined,
        dryRun: values["dry-run"] ?? false,
        skipInvalid: values["skip-invalid"] ?? false,
        chunk: { size: config.kb.chunk_size, overlap: config.kb.chunk_overlap },
      });
      if (report.applied && !report.dryRun) createAuditStore(db).record({ actor: cliActor(), action: "kb.import", target: file, detail: { added: report.added, updated: report.updated, rejected: report.rejected.length, documents: report.documents.length } });
      if (values.json) console.log(JSON.stringify(report, null, 2));
      else {
        const head = report.dryRun ? "dry run, nothing written:" : report.applied ? "imported:" : "nothing imported:";
        console.log(`${head} ${report.added} added, ${report.updated} updated, ${report.unchanged} unchanged, ${report.rejected.length} rejected`);
        for (const d of report.documents) console.log(`  document ${d.id}: ${d.action}, ${d.chunks} chunks`);
        for (const r of report.rejected.slice(0, 50)) console.log(`  line ${r.line}: ${r.reason}`);
        if (report.rejected.length > 50) console.log(`  ... and ${report.rejected.length - 50} more`);
        for (const n of report.nearDuplicates.slice(0, 20)) {
          console.log(`  near-duplicate: line ${n.line} "${n.question}" (${n.id}) ~ "${n.otherQuestion}" (${n.otherId})`);
        }
        if (report.reason) console.log(`  ${report.reason}`);
      }
      return report.rejected.length ? 1 : 0;
    } finally {
      db.close();
    }
  },
};
