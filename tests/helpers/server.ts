import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfig } from "../../src/config/load";
import type { KefuConfig } from "../../src/config/schema";
import { createLogger } from "../../src/log/logger";
import type { FeatureDeps } from "../../src/server/features";
import { type RunningKefu, startKefu } from "../../src/server/start";

type Overrides = { [S in keyof KefuConfig]?: Partial<KefuConfig[S]> };

export interface TestServer {
  kefu: RunningKefu;
  url: string;
  wsUrl: string;
  dir: string;
  /** Log lines written by the server (JSON strings). */
  logs: string[];
  /** Creates a user and returns a bearer token for it. */
  login(role?: "admin" | "agent", name?: string): Promise<string>;
  stop(): Promise<void>;
}

let users = 0;

/** A real kefu on 127.0.0.1 and a random port, with its own SQLite file in a temp dir. */
export async function startTestServer(overrides: Overrides = {}, dir?: string, deps?: FeatureDeps): Promise<TestServer> {
  const ownDir = !dir;
  dir ??= mkdtempSync(join(tmpdir(), "kefu-test-"));
  const base = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
  for (const [section, values] of Object.entries(overrides)) Object.assign(base[section], values);
  const config = base as unknown as KefuConfig;
  config.server.host = "127.0.0.1";
  config.server.port = overrides.server?.port ?? 0;
  config.storage.dir = overrides.storage?.dir ?? join(dir, "data");
  config.log.level = overrides.log?.level ?? "debug";
  const logs: string[] = [];
  const kefu = await startKefu({ config, baseDir: dir, log: createLogger({ level: config.log.level, write: (l) => logs.push(l) }), deps });
  const url = `http://127.0.0.1:${kefu.port}`;
  return {
    kefu,
    url,
    wsUrl: `ws://127.0.0.1:${kefu.port}`,
    dir,
    logs,
    async login(role = "admin", name = `${role}${++users}`) {
      const password = "correct horse battery";
      await kefu.ctx.auth.addUser(name, role, password);
      const res = await fetch(`${url}/api/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name, password }),
      });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { token: string }).token;
    },
    async stop() {
      await kefu.stop("test");
      if (ownDir) rmSync(dir!, { recursive: true, force: true });
    },
  };
}

/** Path of the CLI entry, for tests that run kefu as a child process. */
export const cliEntry = join(import.meta.dir, "../../src/cli/main.ts");
