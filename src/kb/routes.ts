/**
 * Admin REST API of the knowledge base (every route: admins only): entry CRUD, list with filters and hit counts,
 * tags, bulk actions, removing the demo, hit test, import (JSON, multipart or the raw file; dry run; replace mode),
 * the CSV template and export. Bodies strict and snake_case (docs/api.md, "Knowledge base").
 */
import { Elysia } from "elysia";
import type { accessPlugin } from "../auth/access.ts";
import { removeDemoEntries } from "../demo/seed.ts";
import { conflict, KefuError, notFound } from "../errors/kefu-error.ts";
import { cleanEntry, type KnowledgeBase } from "./engine.ts";
import { entryHitsShared, entryView, listEntriesShared, tagCounts } from "./entry-list.ts";
import { importText } from "./import/apply.ts";
import { csvTemplate, exportEntries } from "./import/export.ts";
import { formatFromName, sniffFormat } from "./import/formats.ts";
import { readImportBody } from "./import/request.ts";
import { BulkBody, EntryBody, EntryUpdateBody, ExportQuery, IdParams, ImportBody, ListQuery, NoFieldsBody, SearchQuery, TemplateQuery, unnameableId } from "./schemas.ts";
import type { EntryInput } from "./types.ts";
import type { Sql } from "../storage/sql.ts";

/**
 * `chunk` holds the configured document chunking, used when an import does not set its own. `sql`: the store
 * of the answer log the hit counts come from (the cluster's shared one; default: the knowledge base's database).
 */
export function kbAdminRoutes(
  kb: KnowledgeBase,
  access: ReturnType<typeof accessPlugin>,
  opts: { chunk?: { size?: number; overlap?: number }; maxImportBytes: number; sql?: Sql },
) {
  const chunk = opts.chunk ?? {};
  const view = async (id: string) => {
    const e = kb.get(id);
    if (!e) throw notFound(`entry ${id}`);
    return entryView(e, (await entryHitsShared(kb.db, opts.sql, [id])).get(id));
  };
  const input = (b: { question: string; alt_questions?: string[]; answer: string; tags?: string[]; enabled?: boolean }, id?: string): EntryInput => ({
    id,
    question: b.question,
    alts: b.alt_questions,
    answer: b.answer,
    tags: b.tags,
    enabled: b.enabled,
  });
  return new Elysia({ name: "kb-admin", prefix: "/api/admin/kb" })
    .use(access)
    .get("/entries", async ({ query }) => ({ version: kb.version(), ...(await listEntriesShared(kb.db, opts.sql, query)) }), { access: "admin", query: ListQuery })
    .get("/tags", () => ({ tags: tagCounts(kb.db) }), { access: "admin" })
    .get("/entries/:id", ({ params }) => view(params.id), { access: "admin", params: IdParams })
    .post(
      "/entries",
      async ({ body, set }) => {
        // Without an id the entry's id comes from its question: a second POST of a question must not replace the first.
        const { id } = cleanEntry(input(body, body.id));
        if (kb.get(id)) throw conflict(body.id?.trim() ? `entry ${id} already exists` : `entry ${id} already has this question: edit it with PUT /entries/${id}`);
        const bad = unnameableId(id);
        if (bad) throw new KefuError("invalid_entry", 400, bad);
        const r = await kb.upsert([input(body, body.id)]);
        set.status = 201;
        return view(r.ids[0]!);
      },
      { access: "admin", body: EntryBody },
    )
    .put(
      "/entries/:id",
      async ({ params, body }) => {
        const old = kb.get(params.id);
        const question = body.question ?? old?.question;
        const answer = body.answer ?? old?.answer;
        if (!old && (question === undefined || answer === undefined)) throw notFound(`entry ${params.id} (give question and answer to create it)`);
        await kb.upsert([
          input(
            { question: question!, answer: answer!, alt_questions: body.alt_questions ?? old?.alts, tags: body.tags ?? old?.tags, enabled: body.enabled ?? old?.enabled },
            params.id,
          ),
        ]);
        return view(params.id);
      },
      { access: "admin", params: IdParams, body: EntryUpdateBody },
    )
    .delete(
      "/entries/:id",
      async ({ params, set }) => {
        if ((await kb.delete([params.id])) === 0) throw notFound(`entry ${params.id}`);
        set.status = 204;
      },
      { access: "admin", params: IdParams },
    )
    .post(
      "/entries/bulk",
      async ({ body }) => {
        const ids = [...new Set(body.ids)];
        if (body.action === "delete") return { affected: await kb.delete(ids), version: kb.version() };
        const enabled = body.action === "enable";
        const switched = ids.flatMap((id) => {
          const e = kb.get(id);
          return e && e.enabled !== enabled ? [{ ...e, enabled }] : [];
        });
        // One upsert: one transaction, one version bump (none when every entry already was so).
        const r = await kb.upsert(switched);
        return { affected: r.updated, version: r.version };
      },
      { access: "admin", body: BulkBody },
    )
    .post("/demo/remove", async () => ({ deleted: await removeDemoEntries(kb), version: kb.version() }), { access: "admin", body: NoFieldsBody })
    .get("/search", ({ query }) => kb.search(query.q, { k: query.k ?? 10 }), { access: "admin", query: SearchQuery })
    .post(
      "/import",
      async ({ body }) => {
        const badDocumentId = body.document_id?.trim() ? unnameableId(body.document_id.trim()) : null;
        if (badDocumentId) throw new KefuError("validation_failed", 400, `invalid request field document_id: ${badDocumentId}`);
        const format = body.format ?? formatFromName(body.file_name ?? body.title ?? "") ?? sniffFormat(body.text);
        const run = () => importText(kb, body.text, {
          format,
          mode: body.mode,
          dryRun: body.dry_run,
          skipInvalid: body.skip_invalid,
          documentTitle: body.title ?? (format === "document" ? body.file_name : undefined),
          documentId: body.document_id,
          chunk: { size: body.chunk_size ?? chunk.size, overlap: body.chunk_overlap ?? chunk.overlap },
        });
        // A replace deletes what the file lacks: in a cluster, of the knowledge base as every node last wrote it.
        const report = body.mode === "replace" && !body.dry_run ? await kb.exclusive(run) : await run();
        // A refused file is a 400 that still carries the report (every rejected line); a dry run is a preview: 200.
        if (!report.applied && !report.dry_run) throw new KefuError("import_rejected", 400, report.reason ?? "nothing imported", report);
        return report;
      },
      { access: { role: "admin", maxBody: opts.maxImportBytes, readBody: readImportBody }, body: ImportBody },
    )
    .get(
      "/template.csv",
      ({ query }) => {
        const lang = query.lang ?? "en";
        return new Response(csvTemplate(lang), {
          headers: {
            "content-type": "text/csv; charset=utf-8",
            "content-disposition": `attachment; filename="kefu-kb-template-${lang}.csv"`,
          },
        });
      },
      { access: "admin", query: TemplateQuery },
    )
    .get(
      "/export",
      ({ query }) => {
        const format = query.format ?? "csv";
        const chunks = exportEntries(kb.all(), format);
        const stream = new ReadableStream<string>({
          pull(controller) {
            const next = chunks.next();
            if (next.done) controller.close();
            else controller.enqueue(next.value);
          },
        });
        return new Response(stream, {
          headers: {
            "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
            "content-disposition": `attachment; filename="kb-export.${format}"`,
          },
        });
      },
      { access: "admin", query: ExportQuery },
    )
    .get(
      "/documents",
      () => ({
        documents: kb.documents.list().map((d) => ({ id: d.id, title: d.title, source: d.source, created_at: new Date(d.createdAt).toISOString(), updated_at: new Date(d.updatedAt).toISOString() })),
      }),
      { access: "admin" },
    )
    .delete(
      "/documents/:id",
      async ({ params, set }) => {
        if (!(await kb.documents.delete(params.id))) throw notFound(`document ${params.id}`);
        set.status = 204;
      },
      { access: "admin", params: IdParams },
    );
}
