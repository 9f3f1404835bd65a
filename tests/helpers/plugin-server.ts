import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "./server";
import type { WsClient } from "./ws-client";

export type PluginTestServer = TestServer & { plugins: string };

/**
 * A test server with a plugins directory of its own: `files` (name → source) are written into plugins/
 * before the start; `prepare` runs first with the temp directory (links, files that name paths in it).
 * `stop` also removes the directory.
 */
export async function startPluginServer(
  tag: string,
  files: Record<string, string>,
  overrides: Parameters<typeof startTestServer>[0] = {},
  prepare?: (dir: string) => void,
): Promise<PluginTestServer> {
  const dir = mkdtempSync(join(tmpdir(), `kefu-${tag}-`));
  const plugins = join(dir, "plugins");
  mkdirSync(plugins);
  prepare?.(dir);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(plugins, file), text);
  const s = await startTestServer(overrides, dir);
  return {
    ...s,
    plugins,
    async stop() {
      await s.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let sent = 0;
/** Sends a visitor message and returns the text of the next bot message. */
export async function botReply(c: WsClient, text: string): Promise<string> {
  c.send({ type: "send", client_id: `p${++sent}`, text });
  return (await c.nextType("message", (f) => f.from === "bot")).text as string;
}
