/**
 * Baseline for bench/ws-load.ts: the least a durable chat server must do per message. A bare
 * Bun WebSocket server that answers hello with welcome and, for each send, commits one row to
 * SQLite (WAL, synchronous=FULL) before acking. No validation, no sessions, no bot, no fan-out.
 *   bun bench/lib/ws-baseline.ts <dir>   → prints {"port": N} on stdout
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";

const db = new Database(join(process.argv[2] ?? ".", "baseline.db"), { create: true });
db.run("PRAGMA journal_mode = WAL");
db.run("PRAGMA synchronous = FULL");
db.run("CREATE TABLE IF NOT EXISTS m (id INTEGER PRIMARY KEY, client_id TEXT, text TEXT)");
const insert = db.prepare("INSERT INTO m (client_id, text) VALUES (?, ?) RETURNING id");

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req, srv) {
    return srv.upgrade(req) ? undefined : new Response("upgrade required", { status: 426 });
  },
  websocket: {
    message(ws, raw) {
      const f = JSON.parse(String(raw)) as { type: string; client_id?: string; text?: string };
      if (f.type === "hello") ws.send(JSON.stringify({ type: "welcome" }));
      else if (f.type === "send") {
        const row = insert.get(f.client_id!, f.text!) as { id: number };
        ws.send(JSON.stringify({ type: "ack", client_id: f.client_id, seq: row.id }));
      }
    },
  },
});
console.log(JSON.stringify({ port: server.port }));
