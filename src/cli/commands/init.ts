import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { generatePassword } from "../../auth/password";
import { createAuth } from "../../auth/service";
import { createSqliteSql } from "../../storage/sqlite-driver";
import { renderConfigToml } from "../../config/render";
import { KefuError } from "../../errors/kefu-error";
import { examplePlugins } from "../../plugins/example-plugin";
import { declineDemo, demoEntryIds, seedDemoKnowledge } from "../../demo/seed";
import { KnowledgeBase } from "../../kb/engine";
import { openDatabase } from "../../storage/database";
import { parseFlags, type Command } from "../command";

export const initCommand: Command = {
  name: "init",
  summary: "create config.toml, data/ and plugins/ in a directory, and a first admin account",
  usage: `Usage: kefu init [dir] [--force] [--no-demo]

Writes <dir>/config.toml (every key, commented), creates <dir>/data with the
database and <dir>/plugins with example plugins (greeting, order-status, invoice). On a database without users it
creates the account "admin" and prints its generated password once: only a hash
is stored. Existing files are left alone unless --force is given.
A new database gets the demo shop FAQ (32 entries) so the bot answers at once;
--no-demo starts with an empty knowledge base, and the server never loads the demo
into this database later either. Remove the demo afterwards with
POST /api/admin/kb/demo/remove (or "Remove demo entries" in the admin console).`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { force: { type: "boolean" }, "no-demo": { type: "boolean" } });
    const dir = resolve(positionals[0] ?? ".");
    const force = values.force ?? false;
    const configPath = join(dir, "config.toml");
    if (!force && existsSync(configPath)) {
      throw new KefuError("exists", 1, `${configPath} already exists; use --force to overwrite it`);
    }
    mkdirSync(join(dir, "plugins"), { recursive: true });
    writeFileSync(configPath, renderConfigToml());
    console.log(`wrote ${configPath}`);
    for (const [file, text] of Object.entries(examplePlugins)) {
      const path = join(dir, "plugins", file);
      if (force || !existsSync(path)) {
        writeFileSync(path, text);
        console.log(`wrote ${path}`);
      }
    }
    const db = await openDatabase({ dir: join(dir, "data") });
    try {
      const auth = createAuth(createSqliteSql(db));
      if ((await auth.users.count("admin")) === 0) {
        const password = generatePassword();
        await auth.addUser("admin", "admin", password);
        console.log(`created admin account: name "admin", password ${password}`);
        console.log("this password is shown once and stored only as a hash; change it with: kefu user passwd admin");
      }
      const kb = await KnowledgeBase.open(db);
      if (values["no-demo"]) {
        declineDemo(db);
        const left = demoEntryIds(kb).length;
        console.log(left ? `the demo is not loaded again; ${left} demo entries from before remain (POST /api/admin/kb/demo/remove deletes them)` : "no demo knowledge: the knowledge base starts empty (kefu import <file>)");
      } else {
        const demo = await seedDemoKnowledge(db, kb);
        if (demo) console.log(`loaded ${demo} demo questions and answers (replace them with: kefu import <file> --replace, or leave them out with kefu init --no-demo)`);
      }
      kb.close();
    } finally {
      db.close();
    }
    console.log(`database ready in ${join(dir, "data")}\nstart with: kefu -c ${configPath}`);
    return 0;
  },
};
