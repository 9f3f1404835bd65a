import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitForStart } from "./helpers/process";
import { cliEntry } from "./helpers/server";
import { type Frame, WsClient } from "./helpers/ws-client";

// Issue 4, done-when 3: a child server is killed with SIGKILL right after acks
// arrive; after a restart every acked message is there, seq has no gaps and
// PRAGMA integrity_check is ok.
const dir = mkdtempSync(join(tmpdir(), "kefu-crash-"));
const configPath = join(dir, "config.toml");
writeFileSync(
  configPath,
  `[server]
host = "127.0.0.1"
port = 0
[storage]
dir = "${join(dir, "data")}"
[log]
level = "info"
requests = false
[chat]
rate_burst = 10000
rate_per_second = 1000
`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const spawnServer = async () => {
  const proc = Bun.spawn([process.execPath, cliEntry, "serve", "-c", configPath], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const { port } = await waitForStart(proc);
  return { proc, wsUrl: `ws://127.0.0.1:${port}` };
};

test("every acked message survives SIGKILL; seq is gap-free; the database is intact", async () => {
  const first = await spawnServer();
  const VISITORS = 8;
  const MESSAGES = 25;
  const sessions: { token: string; conversation: string; acked: Map<string, number>; c: WsClient }[] = [];
  for (let v = 0; v < VISITORS; v++) {
    const c = await WsClient.connect(`${first.wsUrl}/ws`);
    c.send({ type: "hello", lang: v % 2 ? "en" : "zh" });
    const w = await c.nextType("welcome");
    sessions.push({ token: w.token, conversation: w.conversation_id, acked: new Map(), c });
  }
  // Everyone sends as fast as possible; the bot replies and hands over concurrently.
  for (let m = 0; m < MESSAGES; m++) {
    for (const [v, s] of sessions.entries()) s.c.send({ type: "send", client_id: `v${v}-m${m}`, text: `message ${m} from visitor ${v}` });
  }
  const acks = sessions.map(async (s) => {
    for (let m = 0; m < MESSAGES; m++) {
      const ack = await s.c.nextType("ack");
      s.acked.set(ack.client_id, ack.seq);
    }
  });
  await Promise.all(acks);
  first.proc.kill("SIGKILL");
  await first.proc.exited;
  expect(first.proc.signalCode).toBe("SIGKILL");

  const second = await spawnServer();
  try {
    for (const s of sessions) {
      expect(s.acked.size).toBe(MESSAGES);
      const c = await WsClient.connect(`${second.wsUrl}/ws`);
      c.send({ type: "hello", token: s.token, conversation_id: s.conversation, last_seq: 0 });
      const w = await c.nextType("welcome");
      expect(w.conversation_id).toBe(s.conversation);
      const rows: Frame[] = [];
      while (rows.length < w.last_seq) rows.push(await c.next((f) => f.type === "message" || f.type === "state"));
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: w.last_seq }, (_, i) => i + 1));
      for (const [clientId, seq] of s.acked) {
        expect(rows[seq - 1]).toMatchObject({ type: "message", from: "visitor", client_id: clientId });
      }
      await c.close();
    }
    const db = new Database(join(dir, "data", "kefu.db"), { readonly: true });
    try {
      expect(db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get()?.integrity_check).toBe("ok");
      const streams = db
        .query<{ n: number; top: number; last_seq: number }, []>(
          "SELECT count(m.seq) AS n, max(m.seq) AS top, c.last_seq FROM chat_conversations c LEFT JOIN chat_messages m ON m.conversation_id = c.id GROUP BY c.id",
        )
        .all();
      for (const s of streams) {
        expect(s.n).toBe(s.top);
        expect(s.last_seq).toBe(s.top);
      }
    } finally {
      db.close();
    }
  } finally {
    second.proc.kill("SIGTERM");
    await second.proc.exited;
  }
});
