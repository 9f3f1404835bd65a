import { useLayoutEffect, useRef } from "preact/hooks";
import { putBack } from "../controller";
import { formatTime } from "../format";
import { html } from "../html";
import { t } from "../i18n";
import { type ConvState, state, visitorLabel } from "../store";
import type { Note, StreamItem } from "../types";

type Entry =
  | { kind: "item"; item: StreamItem }
  | { kind: "note"; note: Note }
  | { kind: "pending-note"; id: string; text: string; failed?: string }
  | { kind: "pending"; id: string; text: string; failed?: string }
  | { kind: "draft"; seq: number; text: string };

/** Messages and state changes by seq, each private note after the rows stored before it, then drafts and unacked texts. */
function entries(c: ConvState): Entry[] {
  const items = [...c.items.values()].sort((a, b) => a.seq - b.seq);
  const notes = [...c.notes.values()].sort((a, b) => a.at - b.at || a.id - b.id);
  const list: Entry[] = [];
  let n = 0;
  for (const item of items) {
    while (n < notes.length && notes[n].at < item.at) list.push({ kind: "note", note: notes[n++] });
    list.push({ kind: "item", item });
  }
  while (n < notes.length) list.push({ kind: "note", note: notes[n++] });
  for (const [seq, text] of c.drafts) list.push({ kind: "draft", seq, text });
  for (const p of c.pendingNotes.values()) list.push({ kind: "pending-note", id: p.client_id, text: p.text, failed: p.failed });
  for (const p of c.pending.values()) list.push({ kind: "pending", id: p.client_id, text: p.text, failed: p.failed });
  return list;
}

export function Transcript({ c }: { c: ConvState }) {
  const ref = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const list = entries(c);
  const visitorName = visitorLabel(c.summary, t("visitor"));
  let seenSeq = 0;
  for (const e of list) if (e.kind === "item" && e.item.type === "message" && e.item.from === "agent" && e.item.seq <= c.visitorRead) seenSeq = e.item.seq;
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  });
  const onScroll = () => {
    const el = ref.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  };
  return html`
    <div class="transcript" ref=${ref} onScroll=${onScroll} aria-live="polite">
      ${list.map((e) => {
        if (e.kind === "note") return html`<${NoteCard} key=${`n${e.note.id}`} text=${e.note.text} who=${e.note.agent.name} status=${formatTime(e.note.at)} />`;
        if (e.kind === "pending-note")
          return html`<${NoteCard} key=${`pn${e.id}`} text=${e.text} who="" status=${e.failed ? `${t("failed")}: ${e.failed}` : t("sending")} pending onPutBack=${e.failed ? () => putBack(c, e.id) : undefined} />`;
        if (e.kind === "draft") return html`<div class="msg from-bot draft" key=${`d${e.seq}`}><div class="bubble">${e.text}</div></div>`;
        if (e.kind === "pending")
          return html`
            <div class="msg from-agent mine pending" key=${`p${e.id}`}>
              <div class="bubble">${e.text}</div>
              <div class="meta">
                ${e.failed ? html`<span class="failed">${t("failed")}: ${e.failed}</span> <button class="link put-back" onClick=${() => putBack(c, e.id)}>${t("put_back")}</button>` : t("sending")}
              </div>
            </div>
          `;
        return html`<${Row} key=${`s${e.item.seq}`} item=${e.item} seen=${e.item.seq === seenSeq} visitorName=${visitorName} />`;
      })}
    </div>
    ${c.typing && html`<div class="typing-preview" role="status"><span class="label">${t("visitor_typing")}</span> <span class="text">${c.typing.text || "…"}</span></div>`}
  `;
}

function Row({ item, seen, visitorName }: { item: StreamItem; seen: boolean; visitorName: string }) {
  if (item.type === "state") return html`<div class="notice state-change" data-seq=${item.seq}><span>${item.text}</span> <time>${formatTime(item.at)}</time></div>`;
  if (item.from === "system") return html`<div class="notice" data-seq=${item.seq}><span>${item.text}</span> <time>${formatTime(item.at)}</time></div>`;
  const mine = item.from === "agent" && item.agent?.id === state.session?.user.id;
  const who = item.from === "visitor" ? visitorName : item.from === "bot" ? t("bot") : mine ? t("you") : (item.agent?.name ?? "");
  return html`
    <div class=${`msg from-${item.from} ${mine ? "mine" : ""}`} data-seq=${item.seq}>
      <div class="meta"><span class="who">${who}</span> <time>${formatTime(item.at)}</time></div>
      <div class="bubble">${item.text}</div>
      ${item.sources?.length ? html`<div class="sources"><span class="label">${t("sources")}</span> ${item.sources.map((x) => html`<span class="source">${x.title || x.id}</span>`)}</div>` : null}
      ${seen && html`<div class="meta seen">${t("seen")}</div>`}
    </div>
  `;
}

function NoteCard({ text, who, status, pending, onPutBack }: { text: string; who: string; status: string; pending?: boolean; onPutBack?: () => void }) {
  return html`
    <div class=${`note-card ${pending ? "pending" : ""}`}>
      <div class="meta">
        <span class="label">${t("private_note")}</span>
        <span class="who">${who}</span>
        <span class="status">${status}</span>
        ${onPutBack && html`<button class="link put-back" onClick=${onPutBack}>${t("put_back")}</button>`}
      </div>
      <div class="text">${text}</div>
    </div>
  `;
}
