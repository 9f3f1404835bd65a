import { createAnswerService } from "../../answer/service";
import { createLogger } from "../../log/logger";
import { startPluginsOnce } from "../../plugins/setup";
import { knowledgeSource } from "../../server/features";
import { configFlag, parseFlags, UsageError, type Command } from "../command";
import { openKnowledge } from "../open";

export const askCommand: Command = {
  name: "ask",
  summary: "answer one question the way the chat bot would (no server needed)",
  usage: `Usage: kefu ask "<question>" [--lang zh|en] [--json] [-c config.toml]

Runs the question through the same answer pipeline the chat uses: plugins, the
knowledge base with the configured thresholds, then the configured LLM providers.
Prints the answer, how it was found (path), the confidence and the sources, then
the best matching entries. --json prints one object.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { ...configFlag, lang: { type: "string" }, json: { type: "boolean" } });
    const text = positionals.join(" ").trim();
    if (!text) throw new UsageError('kefu ask needs a question, e.g. kefu ask "怎么退货"');
    if (values.lang && values.lang !== "zh" && values.lang !== "en") throw new UsageError("--lang must be zh or en");
    const lang = (values.lang as "zh" | "en" | undefined) ?? (/[\u3400-\u9fff]/.test(text) ? "zh" : "en");
    const { kb, db, sql, config, baseDir, models } = await openKnowledge(values.config);
    const log = createLogger({ level: values.json ? "silent" : "warn" });
    try {
      const plugins = await startPluginsOnce(config, baseDir, sql, log, kb);
      // No conversation sink: offline questions are answered now, never deferred to business hours.
      const service = createAnswerService({ config, sql, knowledge: knowledgeSource(kb), plugins, log });
      // The local generator (if configured) answers when the providers do not: wait for its warm-up.
      service.registry.localStep = (messages) => models.localStep(messages);
      await models.settled();
      const result = await service.pipeline.ask({ text, lang });
      service.stop();
      await plugins.stop();
      const { matches } = await kb.search(text, { k: 3 });
      const top = matches.map((m) => ({ id: m.id, question: m.question, matched: m.matched, confidence: round(m.confidence) }));
      if (values.json) {
        console.log(JSON.stringify({ ...result, confidence: round(result.confidence), matches: top }));
        return 0;
      }
      console.log(result.answer);
      console.log(`\npath: ${result.path}   confidence: ${round(result.confidence)}   thresholds: direct ${kb.thresholds.direct}, suggest ${kb.thresholds.suggest}`);
      if (result.sources.length) console.log(`sources: ${result.sources.map((s) => s.id).join(", ")}`);
      for (const m of top) console.log(`  ${m.confidence.toFixed(3)}  ${m.id}  ${m.question}${m.matched !== m.question ? `  (matched: ${m.matched})` : ""}`);
      return 0;
    } finally {
      await models.close();
      db.close();
    }
  },
};

const round = (x: number) => Math.round(x * 1000) / 1000;
