import { useRef, useState } from "preact/hooks";
import { AdminApiError, ApiError } from "../api";
import { t } from "../i18n";
import { api, toast, toastError } from "../store";
import type { ImportReport } from "../types";
import { ErrorNote, html, saveBlob } from "./common";

const ACCEPT = ".csv,.xlsx,.json,.jsonl,.ndjson,.md,.markdown,.txt,.html,.htm,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/json,application/x-ndjson,text/markdown,text/plain";

async function download(path: string, name: string) {
  try {
    saveBlob(await api.download(path), name);
  } catch (err) {
    toastError(err);
  }
}

/** Export (CSV, JSONL) and the import template (Chinese or English headers), fetched with the session's token. */
export function ExportLinks() {
  const b = "/api/admin/kb";
  return html`<span class="downloads">
    <button class="link export-csv" onClick=${() => download(`${b}/export?format=csv`, "kb-export.csv")}>${t("export_csv")}</button>
    <button class="link export-jsonl" onClick=${() => download(`${b}/export?format=jsonl`, "kb-export.jsonl")}>${t("export_jsonl")}</button>
    <button class="link template-zh" onClick=${() => download(`${b}/template.csv?lang=zh`, "kb-template-zh.csv")}>${t("template_zh")}</button>
    <button class="link template-en" onClick=${() => download(`${b}/template.csv?lang=en`, "kb-template-en.csv")}>${t("template_en")}</button>
  </span>`;
}

/**
 * Import a file: a dry run first shows what would be added, updated, left unchanged, deleted (replace mode)
 * and rejected, with line numbers; Apply then sends the same file for real.
 */
export function ImportView() {
  const [file, setFile] = useState<File | null>(null);
  const [mode, setMode] = useState<"upsert" | "replace">("upsert");
  const [format, setFormat] = useState("");
  const [skipInvalid, setSkipInvalid] = useState(false);
  const [title, setTitle] = useState("");
  const [report, setReport] = useState<ImportReport | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // Every change of the file or an option drops the preview; a preview answered after such a change (a slow
  // network) is dropped too, so Apply always sends what the preview on screen was made from.
  const seq = useRef(0);
  const send = async (dryRun: boolean) => {
    if (!file) return;
    const mine = ++seq.current;
    const form = new FormData();
    form.set("file", file, file.name);
    form.set("mode", mode);
    form.set("dry_run", String(dryRun));
    if (skipInvalid) form.set("skip_invalid", "true");
    if (format) form.set("format", format);
    if (title.trim()) form.set("title", title.trim());
    setBusy(true);
    setError(null);
    const stale = () => dryRun && mine !== seq.current;
    try {
      const r = await api.importFile(form);
      if (stale()) return;
      setReport(r);
      if (!dryRun) toast(t("import_applied", r.counts.added, r.counts.updated, r.counts.deleted));
    } catch (err) {
      if (stale()) return;
      setError(err);
      // A refused file comes back as a 400 that still carries the report: show its rejected lines.
      const details = err instanceof AdminApiError ? (err.details as ImportReport | undefined) : undefined;
      setReport(details && typeof details === "object" && "counts" in details ? details : null);
    } finally {
      setBusy(false);
    }
  };
  const reset = () => {
    seq.current++;
    setReport(null);
    setError(null);
  };
  return html`
    <section class="card import-form">
      <div class="form-row">
        <label class="file">${t("import_file")}
          <input type="file" name="file" accept=${ACCEPT} onChange=${(e: Event) => (setFile((e.target as HTMLInputElement).files?.[0] ?? null), reset())} />
        </label>
        <label>${t("format")}
          <select name="format" value=${format} onChange=${(e: Event) => (setFormat((e.target as HTMLSelectElement).value), reset())}>
            <option value="">${t("format_auto")}</option>
            <option value="csv">CSV</option>
            <option value="xlsx">Excel (XLSX)</option>
            <option value="json">JSON</option>
            <option value="jsonl">JSONL</option>
            <option value="markdown">${t("format_markdown")}</option>
            <option value="document">${t("format_document")}</option>
          </select>
        </label>
      </div>
      <fieldset class="mode" onChange=${reset}>
        <legend>${t("import_mode")}</legend>
        <label class="check"><input type="radio" name="mode" value="upsert" checked=${mode === "upsert"} onChange=${() => setMode("upsert")} /> ${t("mode_upsert")}</label>
        <label class="check"><input type="radio" name="mode" value="replace" checked=${mode === "replace"} onChange=${() => setMode("replace")} /> ${t("mode_replace")}</label>
      </fieldset>
      <div class="form-row">
        <label class="check"><input type="checkbox" name="skip_invalid" checked=${skipInvalid} onChange=${(e: Event) => (setSkipInvalid((e.target as HTMLInputElement).checked), reset())} /> ${t("skip_invalid")}</label>
        <label>${t("document_title")} <input name="title" value=${title} placeholder=${t("document_title_hint")} onInput=${(e: Event) => (setTitle((e.target as HTMLInputElement).value), reset())} /></label>
      </div>
      <div class="buttons">
        <button class="primary preview" disabled=${!file || busy} onClick=${() => send(true)}>${t("preview")}</button>
        <${ExportLinks} />
      </div>
    </section>
    ${error && html`<${ErrorNote} error=${error} />`}
    ${error instanceof ApiError && error.status === 400 && !skipInvalid && html`<p class="muted">${t("import_rejected_hint")}</p>`}
    ${report && html`<${ReportView} report=${report} busy=${busy} apply=${() => send(false)} />`}
  `;
}

/**
 * A dry run the server would refuse for real (a fatal line, invalid lines without skip invalid, a replace that
 * deletes everything): its reason is other than "dry run" (src/kb/import/apply.ts), and there is nothing to apply.
 */
const refused = (r: ImportReport) => r.dry_run && !!r.reason && r.reason !== "dry run";
/** Refused only for its rejected lines (no fatal one): ticking "skip invalid lines" imports the rest. */
const fixable = (r: ImportReport) => r.counts.rejected > 0 && !/^file rejected|would delete every entry/.test(r.reason ?? "");

function ReportView({ report: r, busy, apply }: { report: ImportReport; busy: boolean; apply: () => void }) {
  const c = r.counts;
  return html`
    <section class=${`card import-report ${r.dry_run ? "dry-run" : "applied"}`}>
      <header class="report-head">
        <h2>${r.dry_run ? t("preview_title") : r.applied ? t("applied_title") : t("not_applied_title")}</h2>
        <span class="muted">${r.format} · ${r.mode === "replace" ? t("mode_replace") : t("mode_upsert")} · ${t("kb_version", r.version)}</span>
      </header>
      <div class="counts">
        <span class="count-added">${t("added")}: <strong>${c.added}</strong></span>
        <span class="count-updated">${t("updated_n")}: <strong>${c.updated}</strong></span>
        <span class="count-unchanged">${t("unchanged")}: <strong>${c.unchanged}</strong></span>
        <span class="count-deleted">${t("deleted_n")}: <strong>${c.deleted}</strong></span>
        <span class="count-rejected">${t("rejected")}: <strong>${c.rejected}</strong></span>
      </div>
      ${r.deleted.length > 0 &&
      html`<details class="report-deleted" open>
        <summary>${t("will_delete", r.deleted.length)}</summary>
        <ul>${r.deleted.map((d) => html`<li><span class="mono">${d.id}</span> ${d.question}</li>`)}</ul>
      </details>`}
      ${r.rejected.length > 0 &&
      html`<details class="report-rejected" open>
        <summary>${t("rejected")} (${r.rejected.length})</summary>
        <ul>${r.rejected.map((x) => html`<li>${t("line", x.line)}: ${x.error}</li>`)}</ul>
      </details>`}
      ${r.added.length > 0 &&
      html`<details class="report-added" open=${r.added.length <= 20}>
        <summary>${t("added")} (${r.added.length})</summary>
        <ul>${r.added.map((x) => html`<li>${t("line", x.line)}: ${x.question}</li>`)}</ul>
      </details>`}
      ${r.updated.length > 0 &&
      html`<details class="report-updated" open=${r.updated.length <= 20}>
        <summary>${t("updated_n")} (${r.updated.length})</summary>
        <ul>${r.updated.map((x) => html`<li>${t("line", x.line)}: ${x.question} <span class="muted">(${x.fields.join(", ")})</span></li>`)}</ul>
      </details>`}
      ${r.unchanged.length > 0 &&
      html`<details class="report-unchanged">
        <summary>${t("unchanged")} (${r.unchanged.length})</summary>
        <ul>${r.unchanged.map((x) => html`<li>${t("line", x.line)}: <span class="mono">${x.id}</span></li>`)}</ul>
      </details>`}
      ${(r.near_duplicates?.length ?? 0) > 0 &&
      html`<details class="report-near" open>
        <summary>${t("near_duplicates", r.near_duplicates.length)}</summary>
        <ul>${r.near_duplicates.map(
          (x) => html`<li>${t("line", x.line)}: ${x.question} <span class="muted">≈</span> ${x.other_question} <span class="mono">${x.other_line ? t("line", x.other_line) : x.other_id}</span></li>`,
        )}</ul>
      </details>`}
      ${(r.chunks?.length ?? 0) > 0 &&
      html`<details class="report-chunks" open>
        <summary>${t("chunks", r.chunks!.length)}</summary>
        <ol>${r.chunks!.map((x) => html`<li><pre class="chunk">${x.text}</pre></li>`)}</ol>
      </details>`}
      ${refused(r)
        ? html`<p class="error refused-reason" role="alert">${t("import_refused")} ${fixable(r) ? t("import_rejected_hint") : r.reason}</p>`
        : r.dry_run
        ? html`<div class="buttons"><button class="primary apply" disabled=${busy} onClick=${apply}>${r.mode === "replace" && c.deleted > 0 ? t("apply_delete", c.deleted) : t("apply")}</button></div>`
        : r.applied
          ? html`<p class="ok applied-note" role="status">${t("import_done")}</p>`
          : html`<p class="error">${r.reason ?? ""}</p>`}
    </section>
  `;
}
