/**
 * The floors kefu is measured against, speaking the same visitor frames (docs/protocol.md) as kefu:
 * hello → welcome; each send → ack and, at once, a bot `message` (seq after the ack's).
 *
 *   bun bench/load/echo-server.ts              raw Bun WebSocket echo: no storage, no validation, no bot
 *   bun bench/load/echo-server.ts --sqlite DIR echo + SQLite group commit: the visitor message and the bot
 *                                              reply (two rows, like kefu) are committed (WAL,
 *                                              synchronous=FULL) before the ack; every message that arrives
 *                                              while a commit is pending joins the next transaction
 *
 * Prints {"port": N} on stdout once listening. (bench/lib/ws-baseline.ts is the older per-message-commit
 * baseline of bench/ws-load.ts.)
 */
import { Database } from "bun:sqlite";
import type { ServerWebSocket } from "bun";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { sqlite: { type: "string" } } });

interface Conn {
  seq: number;
}
type Ws = ServerWebSocket<Conn>;
const answer = JSON.stringify("Shipping is free on orders of 99 yuan or more; smaller orders pay a flat 8 yuan.");
const reply = (ws: Ws, clientId: string) => {
  const ack = ++ws.data.seq;
  const seq = ++ws.data.seq;
  ws.send(`{"type":"ack","client_id":${JSON.stringify(clientId)},"seq":${ack}}`);
  ws.send(`{"type":"message","seq":${seq},"from":"bot","text":${answer},"at":${Date.now()}}`);
};

let onSend: (ws: Ws, clientId: string, text: string) => void = reply;

if (values.sqlite) {
  const db = new Database(join(values.sqlite, "echo.db"), { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = FULL");
  db.run("CREATE TABLE IF NOT EXISTS m (id INTEGER PRIMARY KEY, client_id TEXT, sender TEXT, text TEXT, at INTEGER)");
  const insert = db.prepare("INSERT INTO m (client_id, sender, text, at) VALUES (?, ?, ?, ?)");
  let batch: { ws: Ws; clientId: string; text: string }[] = [];
  const commit = db.transaction((rows: typeof batch) => {
    const at = Date.now();
    for (const r of rows) {
      insert.run(r.clientId, "visitor", r.text, at);
      insert.run(r.clientId, "bot", answer, at);
    }
  });
  const flush = () => {
    const rows = batch;
    batch = [];
    commit(rows);
    for (const r of rows) if (r.ws.readyState === 1) reply(r.ws, r.clientId);
  };
  onSend = (ws, clientId, text) => {
    if (batch.push({ ws, clientId, text }) === 1) setImmediate(flush);
  };
}

const server = Bun.serve<Conn>({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req, srv) {
    return srv.upgrade(req, { data: { seq: 0 } }) ? undefined : new Response("upgrade required", { status: 426 });
  },
  websocket: {
    idleTimeout: 960,
    message(ws, raw) {
      const f = JSON.parse(String(raw)) as { type: string; client_id?: string; text?: string };
      if (f.type === "hello") ws.send(`{"type":"welcome","v":1,"last_seq":${ws.data.seq}}`);
      else if (f.type === "send") onSend(ws, f.client_id ?? "", f.text ?? "");
      else if (f.type === "ping") ws.send('{"type":"pong"}');
    },
  },
});
console.log(JSON.stringify({ port: server.port }));
