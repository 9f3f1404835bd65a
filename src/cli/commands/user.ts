import { generatePassword } from "../../auth/password";
import { createAuth, displayName } from "../../auth/service";
import type { Role } from "../../auth/user-store";
import { cliActor, createAuditStore } from "../../ops/audit/store";
import { openFromConfig } from "../open";
import { configFlag, parseFlags, UsageError, type Command } from "../command";

async function readPassword(stdin: boolean): Promise<{ password: string; generated: boolean }> {
  if (stdin) return { password: (await Bun.stdin.text()).replace(/\r?\n$/, ""), generated: false };
  return { password: generatePassword(), generated: true };
}

/** A bad --display-name is a usage error (exit 2), checked before any password is read. */
function checkedDisplayName(value: string): string {
  try {
    return displayName(value)!;
  } catch (err) {
    throw new UsageError(`--display-name: ${(err as Error).message}`);
  }
}

export const userCommand: Command = {
  name: "user",
  summary: "manage admin and agent accounts (add, list, passwd, disable, enable)",
  usage: `Usage:
  kefu user add <name> --role admin|agent [--display-name NAME] [--password-stdin] [--max-concurrent N] [-c config.toml]
  kefu user passwd <name> [--password-stdin] [-c config.toml]
  kefu user disable|enable <name> [-c config.toml]
  kefu user list [-c config.toml]

Without --password-stdin a password is generated and printed once; only its
argon2id hash is stored. --display-name is the name visitors see (1-64
characters; without it they see the login name). list prints id, name, role,
display name ("-" when none) and "disabled" for disabled accounts, tab-separated.
A disabled account cannot sign in and its signed-in sessions stop at once.
add, passwd, disable and enable are recorded in the audit log.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      ...configFlag,
      role: { type: "string" },
      "password-stdin": { type: "boolean" },
      "max-concurrent": { type: "string" },
      "display-name": { type: "string" },
    });
    const [action, name] = positionals;
    const { db, sql } = await openFromConfig(values.config);
    try {
      // The accounts live in the shared store (PostgreSQL in cluster mode).
      const auth = createAuth(sql);
      const audit = (action: "user.add" | "user.passwd" | "user.disable" | "user.enable", target: string, detail?: Record<string, unknown>) =>
        createAuditStore(sql).record({ actor: cliActor(), action, target, detail });
      if (action === "list") {
        for (const u of await auth.users.list()) console.log(`${u.id}\t${u.name}\t${u.role}\t${u.displayName ?? "-"}${u.disabled ? "\tdisabled" : ""}`);
        return 0;
      }
      if (!name) throw new UsageError(`kefu user ${action ?? "<add|passwd|list>"} needs a user name`);
      if (action === "add") {
        const role = values.role as Role | undefined;
        if (role !== "admin" && role !== "agent") throw new UsageError("--role must be admin or agent");
        const max = values["max-concurrent"] === undefined ? undefined : Number(values["max-concurrent"]);
        if (max !== undefined && !(Number.isInteger(max) && max > 0 && max <= 1000)) throw new UsageError("--max-concurrent must be an integer from 1 to 1000");
        const display = values["display-name"] === undefined ? undefined : checkedDisplayName(values["display-name"]);
        const { password, generated } = await readPassword(values["password-stdin"] ?? false);
        const user = await auth.addUser(name, role, password, { maxConcurrent: max, displayName: display });
        await audit("user.add", user.name, { id: user.id, role: user.role });
        const shown = user.displayName ? `, shown to visitors as "${user.displayName}"` : "";
        console.log(`added ${user.role} ${user.name} (id ${user.id})${shown}${generated ? `, password: ${password}` : ""}`);
        return 0;
      }
      if (action === "passwd") {
        const cred = await auth.users.credentials(name);
        if (!cred) throw new UsageError(`no user named ${name}`);
        const { password, generated } = await readPassword(values["password-stdin"] ?? false);
        await auth.setPassword(cred.user.id, password);
        await audit("user.passwd", cred.user.name, { id: cred.user.id });
        console.log(`password of ${name} changed${generated ? `: ${password}` : ""}; existing tokens were revoked`);
        return 0;
      }
      if (action === "disable" || action === "enable") {
        const cred = await auth.users.credentials(name);
        if (!cred) throw new UsageError(`no user named ${name}`);
        await auth.users.setDisabled(cred.user.id, action === "disable");
        await audit(`user.${action}`, cred.user.name, { id: cred.user.id });
        console.log(`${name} ${action}d`);
        return 0;
      }
      throw new UsageError(`unknown action "${action ?? ""}" for kefu user (add, passwd, disable, enable, list)`);
    } finally {
      db.close();
    }
  },
};
