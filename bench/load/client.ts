/**
 * One load-client process (started by bench/load/driver.ts, never by hand): holds its share of the
 * visitor sessions and sends its share of the aggregate rate, open-loop (the schedule does not wait for
 * answers). Speaks the visitor protocol (docs/protocol.md): hello → welcome; send {client_id, text} → ack,
 * then the bot's `message`. Records, for every message: intended and actual send time (epoch ms), send →
 * ack and send → answer (the first bot or system `message` with a higher seq than the ack), and failures.
 * The samples go to a binary file (5 float64 columns per message); the driver computes every figure from
 * all samples of all client processes.
 *
 *   commands over IPC: init {url, worker, workers, hello}, open {sessions}, run {...}, close
 */
import { loadPhrasings, cachedQuestion } from "./phrasings";

export type Mode = "distinct" | "same";
export interface Segment {
  rate: number; // messages per second, aggregate over all client processes
  seconds: number;
}
export interface RunCommand {
  kind: "run";
  run: number;
  segments: Segment[];
  mode: Mode;
  startAt: number; // epoch ms, shared by all client processes
  answerTimeoutMs: number;
  file: string;
}
export interface RunReport {
  kind: "ran";
  worker: number;
  count: number;
  cpuMs: number;
  wallMs: number;
  errorCodes: Record<string, number>;
  unexpectedCloses: number;
  /** Acks that arrived after the bot reply with a higher seq (the reply overtook the ack). */
  answerBeforeAck: number;
  closeCodes: Record<string, number>;
  openSessions: number;
}
export interface OpenReport {
  kind: "opened";
  worker: number;
  opened: number;
  failed: number;
  ms: number;
  sessions: number;
}
/** Sample columns. flag: 0 ok so far, 1 error frame, 2 socket closed before the answer, 3 not sent (no open socket). */
export const COLS = 5;
export const [C_INTENDED, C_SENT, C_ACK, C_ANSWER, C_FLAG] = [0, 1, 2, 3, 4];

const now = () => performance.timeOrigin + performance.now();

interface Bound {
  from: number; // epoch ms the segment starts
  rate: number;
  base: number; // aggregate index of its first message
  n: number;
}

interface Session {
  ws: WebSocket | null;
  open: boolean;
  awaiting: { idx: number; seq: number }[];
  unacked: Set<number>;
  /** The newest bot or system message: seq and arrival time (an ack may come after the reply it led to). */
  answerSeq: number;
  answerAt: number;
  /** With KEFU_LOAD_DEBUG: the last frames this session received, for a report on unanswered messages. */
  trace?: string[];
}
const debug = !!process.env.KEFU_LOAD_DEBUG;

let url = "";
let worker = 0;
let workers = 1;
let texts: string[] = [];
let sameText = "";
const sessions: Session[] = [];
let currentRun = -1;
let prefix = "";
let data = new Float64Array(0);
let count = 0;
const errorCodes: Record<string, number> = {};
const closeCodes: Record<string, number> = {};
let unexpectedCloses = 0;
let answerBeforeAck = 0;
let closing = false;

function grow() {
  const next = new Float64Array(Math.max(1024 * COLS, data.length * 2));
  next.set(data);
  data = next;
}

function onFrame(s: Session, raw: string) {
  if (debug) (s.trace ??= []).push(raw.slice(0, 140)) > 12 && s.trace.shift();
  const f = JSON.parse(raw) as { type: string; client_id?: string; seq?: number; from?: string; code?: string };
  if (f.type === "ack") {
    const idx = indexOf(f.client_id);
    if (idx < 0 || !s.unacked.delete(idx)) return;
    data[idx * COLS + C_ACK] = now() - data[idx * COLS + C_SENT];
    const seq = f.seq ?? 0;
    if (seq < s.answerSeq) {
      // The reply (higher seq) overtook this ack on the socket: the message is answered already.
      data[idx * COLS + C_ANSWER] = s.answerAt - data[idx * COLS + C_SENT];
      answerBeforeAck++;
    } else s.awaiting.push({ idx, seq });
  } else if (f.type === "message" && (f.from === "bot" || f.from === "system")) {
    const seq = f.seq ?? Infinity;
    const t = now();
    s.answerSeq = seq;
    s.answerAt = t;
    let k = 0;
    while (k < s.awaiting.length && s.awaiting[k].seq < seq) {
      const idx = s.awaiting[k++].idx;
      data[idx * COLS + C_ANSWER] = t - data[idx * COLS + C_SENT];
    }
    if (k) s.awaiting.splice(0, k);
  } else if (f.type === "error") {
    errorCodes[f.code ?? "?"] = (errorCodes[f.code ?? "?"] ?? 0) + 1;
    const idx = indexOf(f.client_id);
    if (idx >= 0 && s.unacked.delete(idx)) data[idx * COLS + C_FLAG] = 1;
  }
}

function indexOf(clientId: string | undefined): number {
  if (!clientId || !clientId.startsWith(prefix)) return -1;
  return Number(clientId.slice(prefix.length));
}

function connect(s: Session): Promise<boolean> {
  return new Promise((done) => {
    const ws = new WebSocket(url);
    s.ws = ws;
    let welcomed = false;
    const timer = setTimeout(() => {
      if (!welcomed) {
        ws.close();
        done(false);
      }
    }, 30_000);
    ws.onopen = () => ws.send('{"type":"hello","lang":"en"}');
    ws.onmessage = (e) => {
      const raw = e.data as string;
      if (!welcomed) {
        if (raw.includes('"welcome"')) {
          welcomed = true;
          s.open = true;
          clearTimeout(timer);
          done(true);
        }
        return;
      }
      onFrame(s, raw);
    };
    ws.onclose = (e) => {
      clearTimeout(timer);
      const was = s.open;
      s.open = false;
      if (!welcomed) return done(false);
      if (closing || !was) return;
      unexpectedCloses++;
      closeCodes[e.code] = (closeCodes[e.code] ?? 0) + 1;
      for (const idx of s.unacked) data[idx * COLS + C_FLAG] = 2;
      for (const a of s.awaiting) data[a.idx * COLS + C_FLAG] = 2;
      s.unacked.clear();
      s.awaiting = [];
      // A real widget reconnects; this one comes back as a new visitor a second later.
      setTimeout(() => void connect(s), 1000);
    };
  });
}

async function open(total: number): Promise<OpenReport> {
  const t0 = performance.now();
  let opened = 0;
  let failed = 0;
  const fresh: Session[] = [];
  while (sessions.length + fresh.length < total) fresh.push({ ws: null, open: false, awaiting: [], unacked: new Set(), answerSeq: -1, answerAt: 0 });
  let next = 0;
  const lane = async () => {
    while (next < fresh.length) {
      const s = fresh[next++];
      if (await connect(s)) opened++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: 128 }, lane));
  sessions.push(...fresh);
  return { kind: "opened", worker, opened, failed, ms: performance.now() - t0, sessions: sessions.filter((s) => s.open).length };
}

async function run(cmd: RunCommand): Promise<RunReport> {
  currentRun = cmd.run;
  prefix = `w${worker}r${currentRun}-`;
  count = 0;
  for (const k of Object.keys(errorCodes)) delete errorCodes[k];
  for (const k of Object.keys(closeCodes)) delete closeCodes[k];
  unexpectedCloses = 0;
  answerBeforeAck = 0;
  for (const s of sessions) {
    s.awaiting = [];
    s.unacked.clear();
  }
  const quoted = texts.map((t) => JSON.stringify(t));
  const quotedSame = JSON.stringify(sameText);
  let textAt = 0;
  let sessionAt = 0;
  const total = cmd.segments.reduce((n, s) => n + s.seconds, 0) * 1000;
  // This process's share: message i of the aggregate schedule belongs to worker i % workers.
  const bounds: Bound[] = [];
  let at = cmd.startAt;
  let base = 0;
  for (const seg of cmd.segments) {
    const n = Math.floor(seg.rate * seg.seconds);
    bounds.push({ from: at, rate: seg.rate, base, n });
    base += n;
    at += seg.seconds * 1000;
  }
  const end = cmd.startAt + total;
  let global = worker; // the next aggregate index this worker owns
  while (now() < cmd.startAt) await Bun.sleep(Math.min(50, cmd.startAt - now()));
  const cpu0 = process.cpuUsage();
  const wall0 = now();
  await new Promise<void>((finished) => {
    const tick = () => {
      const t = now();
      // Send every message of this worker whose intended time has come.
      for (;;) {
        const seg = segmentOf(bounds, global);
        if (!seg) break;
        const intended = seg.from + ((global - seg.base) / seg.rate) * 1000;
        if (intended > t) break;
        if ((count + 1) * COLS > data.length) grow();
        const idx = count++;
        const row = idx * COLS;
        data[row + C_INTENDED] = intended;
        data[row + C_ACK] = -1;
        data[row + C_ANSWER] = -1;
        let s: Session | undefined;
        for (let tries = 0; tries < sessions.length; tries++) {
          const c = sessions[sessionAt++ % sessions.length];
          if (c.open) {
            s = c;
            break;
          }
        }
        if (!s) {
          data[row + C_SENT] = t;
          data[row + C_FLAG] = 3;
        } else {
          const text = cmd.mode === "same" ? quotedSame : quoted[textAt++ % quoted.length];
          data[row + C_FLAG] = 0;
          s.unacked.add(idx);
          data[row + C_SENT] = now();
          s.ws!.send(`{"type":"send","client_id":"${prefix}${idx}","text":${text}}`);
        }
        global += workers;
      }
      if (t >= end) finished();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const cpu = process.cpuUsage(cpu0);
  const wallMs = now() - wall0;
  // Drain: wait for the outstanding answers, at most answerTimeoutMs after the last send.
  const deadline = now() + cmd.answerTimeoutMs;
  while (now() < deadline && sessions.some((s) => s.unacked.size || s.awaiting.length)) await Bun.sleep(20);
  if (debug) {
    console.error(`worker ${worker} drained: unacked ${sessions.reduce((n, s) => n + s.unacked.size, 0)}, unanswered ${sessions.reduce((n, s) => n + s.awaiting.length, 0)}, after ${Math.round(now() - wall0 - wallMs)} ms`);
    for (const s of sessions.filter((x) => x.awaiting.length).slice(0, 3))
      console.error(`  unanswered acks ${JSON.stringify(s.awaiting.map((a) => a.seq))}; last frames:\n    ${(s.trace ?? []).join("\n    ")}`);
  }
  await Bun.write(cmd.file, data.subarray(0, count * COLS));
  return {
    kind: "ran",
    worker,
    count,
    cpuMs: (cpu.user + cpu.system) / 1000,
    wallMs,
    errorCodes: { ...errorCodes },
    unexpectedCloses,
    answerBeforeAck,
    closeCodes: { ...closeCodes },
    openSessions: sessions.filter((s) => s.open).length,
  };
}

function segmentOf(bounds: Bound[], i: number): Bound | undefined {
  for (const b of bounds) if (i >= b.base && i < b.base + b.n) return b;
  return undefined;
}

process.on("message", async (m: { kind: string } & Record<string, unknown>) => {
  if (m.kind === "init") {
    url = m.url as string;
    worker = m.worker as number;
    workers = m.workers as number;
    // Each process asks its own slice of the phrasings, so a phrasing comes back only after all the others.
    const all = loadPhrasings().texts;
    texts = all.filter((_, i) => i % workers === worker);
    sameText = cachedQuestion;
    process.send!({ kind: "ready", worker, phrasings: texts.length });
  } else if (m.kind === "open") {
    process.send!(await open(m.sessions as number));
  } else if (m.kind === "run") {
    process.send!(await run(m as unknown as RunCommand));
  } else if (m.kind === "close") {
    closing = true;
    for (const s of sessions) s.ws?.close();
    process.exit(0);
  }
});
