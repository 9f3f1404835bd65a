import { cliActor, createAuditStore } from "../../ops/audit/store";
import { eraseVisitor, exportVisitor, findVisitors } from "../../ops/erase";
import { openFromConfig } from "../open";
import { configFlag, parseFlags, UsageError, type Command } from "../command";

export const visitorCommand: Command = {
  name: "visitor",
  summary: "find, export or erase one visitor's data (GDPR / PIPL requests)",
  usage: `Usage:
  kefu visitor find <id|email|name|user id> [-c config.toml]
  kefu visitor export <visitor id> [-c config.toml]      # JSON on stdout
  kefu visitor erase <visitor id> [-c config.toml]

erase deletes the visitor, its device tokens, its conversations with their
messages, notes and rating, and its off-hours questions; nothing of other
visitors. Export and erase are recorded in the audit log. Works while the
server runs (same as DELETE /api/admin/visitors/:id).`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, configFlag);
    const [action, id] = positionals;
    if (!action || !["find", "export", "erase"].includes(action)) throw new UsageError("kefu visitor needs find, export or erase");
    if (!id) throw new UsageError(`kefu visitor ${action} needs a visitor id`);
    const { db, sql } = await openFromConfig(values.config);
    try {
      const audit = createAuditStore(sql);
      if (action === "find") {
        const found = await findVisitors(sql, id);
        for (const v of found) console.log(`${v.id}\t${v.name ?? "-"}\t${v.email ?? "-"}\t${v.external_id ?? "-"}${v.verified ? " (verified)" : ""}\tlast seen ${v.last_seen_at}`);
        return found.length ? 0 : 1;
      }
      if (action === "export") {
        const data = await exportVisitor(sql, id);
        if (!data) throw new UsageError(`no visitor ${id}`);
        await audit.record({ actor: cliActor(), action: "visitor.export", target: id, detail: { conversations: data.conversations.length } });
        console.log(JSON.stringify(data, null, 2));
        return 0;
      }
      const erased = await eraseVisitor(sql, id);
      if (!erased) throw new UsageError(`no visitor ${id}`);
      await audit.record({ actor: cliActor(), action: "visitor.erase", target: id, detail: { ...erased } });
      console.log(`erased visitor ${id}: ${erased.conversations} conversations, ${erased.messages} messages, ${erased.notes} notes, ${erased.tokens} device tokens, ${erased.pending_questions} offline questions`);
      return 0;
    } finally {
      db.close();
    }
  },
};
