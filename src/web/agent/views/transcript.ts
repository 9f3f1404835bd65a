import { useLayoutEffect, useRef } from "preact/hooks";
import { formatTime } from "../format";
import { html } from "../html";
import { t } from "../i18n";
import { type ConvState, state, visitorLabel } from "../store";
import type { Note, StreamItem } from "../types";

type Entry =
  | { kind: "item"; at: number; order: number; item: StreamItem }
  | { kind: "note"; at: number; order: number; note: Note }
  | { kind: "pending-note"; at: number; order: number; text: string; failed?: string }
  | { kind: "pending"; at: number; order: number; text: string; failed?: string }
  | { kind: "draft"; at: number; order: number; text: string };

/** Messages and state changes by seq, private notes between them by time, then drafts and unacked replies. */
function entries(c: ConvState): Entry[] {
  const list: Entry[] = [];
  for (const item of c.items.values()) list.push({ kind: "item", at: item.at, order: item.seq, item });
  for (const note of c.notes.values()) list.push({ kind: "note", at: note.at, order: Number.MAX_SAFE_INTEGER, note });
  list.sort((a, b) => (a.kind === "item" && b.kind === "item" ? a.order - b.order : a.at - b.at || a.order - b.order));
  const tail: Entry[] = [];
  for (const [seq, text] of c.drafts) tail.push({ kind: "draft", at: Date.now(), order: seq, text });
  for (const p of c.pendingNotes.values()) tail.push({ kind: "pending-note", at: p.at, order: 0, text: p.text, failed: p.failed });
  for (const p of c.pending.values()) tail.push({ kind: "pending", at: p.at, order: 0, text: p.text, failed: p.failed });
  return [...list, ...tail];
}

export function Transcript({ c }: { c: ConvState }) {
  const ref = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const list = entries(c);
  const visitorName = visitorLabel(c.summary, t("visitor"));
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
        if (e.kind === "pending-note") return html`<${NoteCard} key=${`pn${e.at}`} text=${e.text} who="" status=${e.failed ? `${t("failed")}: ${e.failed}` : t("sending")} pending />`;
        if (e.kind === "draft") return html`<div class="msg from-bot draft" key=${`d${e.order}`}><div class="bubble">${e.text}</div></div>`;
        if (e.kind === "pending")
          return html`
            <div class="msg from-agent mine pending" key=${`p${e.at}${e.text.length}`}>
              <div class="bubble">${e.text}</div>
              <div class="meta">${e.failed ? html`<span class="failed">${t("failed")}: ${e.failed}</span>` : t("sending")}</div>
            </div>
          `;
        return html`<${Row} key=${`s${e.item.seq}`} item=${e.item} c=${c} visitorName=${visitorName} />`;
      })}
    </div>
    ${c.typing && html`<div class="typing-preview" role="status"><span class="label">${t("visitor_typing")}</span> <span class="text">${c.typing.text || "…"}</span></div>`}
  `;
}

function Row({ item, c, visitorName }: { item: StreamItem; c: ConvState; visitorName: string }) {
  if (item.type === "state") return html`<div class="notice state-change" data-seq=${item.seq}><span>${item.text}</span> <time>${formatTime(item.at)}</time></div>`;
  if (item.from === "system") return html`<div class="notice" data-seq=${item.seq}><span>${item.text}</span> <time>${formatTime(item.at)}</time></div>`;
  const mine = item.from === "agent" && item.agent?.id === state.session?.user.id;
  const who = item.from === "visitor" ? visitorName : item.from === "bot" ? t("bot") : mine ? t("you") : (item.agent?.name ?? "");
  return html`
    <div class=${`msg from-${item.from} ${mine ? "mine" : ""}`} data-seq=${item.seq}>
      <div class="meta"><span class="who">${who}</span> <time>${formatTime(item.at)}</time></div>
      <div class="bubble">${item.text}</div>
      ${item.sources?.length ? html`<div class="sources"><span class="label">${t("sources")}</span> ${item.sources.map((x) => html`<span class="source">${x.title || x.id}</span>`)}</div>` : null}
      ${item.from === "agent" && c.visitorRead >= item.seq && html`<div class="meta seen">${t("seen")}</div>`}
    </div>
  `;
}

function NoteCard({ text, who, status, pending }: { text: string; who: string; status: string; pending?: boolean }) {
  return html`
    <div class=${`note-card ${pending ? "pending" : ""}`}>
      <div class="meta">
        <span class="label">${t("private_note")}</span>
        <span class="who">${who}</span>
        <span class="status">${status}</span>
      </div>
      <div class="text">${text}</div>
    </div>
  `;
}
