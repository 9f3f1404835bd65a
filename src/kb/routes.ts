/**
 * Admin REST API of the knowledge base (every route: admins only): entry CRUD, hit test, import (with
 * dry run) and export.
 */
import { Elysia } from "elysia";
import type { accessPlugin } from "../auth/access.ts";
import { conflict, notFound } from "../errors/kefu-error.ts";
import type { KnowledgeBase } from "./engine.ts";
import { importText } from "./import/apply.ts";
import { exportEntries } from "./import/export.ts";
import { EntryBody, EntryUpdateBody, ExportQuery, IdParams, ImportBody, ListQuery, SearchQuery } from "./schemas.ts";

/** `chunk` holds the configured document chunking, used when an import does not set its own. */
export function kbAdminRoutes(
  kb: KnowledgeBase,
  access: ReturnType<typeof accessPlugin>,
  opts: { chunk?: { size?: number; overlap?: number }; maxImportBytes: number },
) {
  const chunk = opts.chunk ?? {};
  return new Elysia({ name: "kb-admin", prefix: "/api/admin/kb" })
    .use(access)
    .get("/entries", ({ query }) => ({ version: kb.version(), ...kb.list(query) }), { access: "admin", query: ListQuery })
    .get(
      "/entries/:id",
      ({ params }) => {
        const e = kb.get(params.id);
        if (!e) throw notFound(`entry ${params.id}`);
        return e;
      },
      { access: "admin", params: IdParams },
    )
    .post(
      "/entries",
      async ({ body, set }) => {
        if (body.id && kb.get(body.id)) throw conflict(`entry ${body.id} already exists`);
        const r = await kb.upsert([body]);
        set.status = 201;
        return kb.get(r.ids[0]!);
      },
      { access: "admin", body: EntryBody },
    )
    .put(
      "/entries/:id",
      async ({ params, body }) => {
        await kb.upsert([{ ...body, id: params.id }]);
        return kb.get(params.id);
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
    .get("/search", ({ query }) => kb.search(query.q, { k: query.k ?? 10 }), { access: "admin", query: SearchQuery })
    .post(
      "/import",
      ({ body }) =>
        importText(kb, body.text, {
          format: body.format,
          dryRun: body.dryRun,
          skipInvalid: body.skipInvalid,
          documentTitle: body.title,
          documentId: body.documentId,
          chunk: { size: body.chunkSize ?? chunk.size, overlap: body.chunkOverlap ?? chunk.overlap },
        }),
      { access: { role: "admin", maxBody: opts.maxImportBytes }, body: ImportBody },
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
    .get("/documents", () => kb.documents.list(), { access: "admin" })
    .delete(
      "/documents/:id",
      async ({ params, set }) => {
        if (!(await kb.documents.delete(params.id))) throw notFound(`document ${params.id}`);
        set.status = 204;
      },
      { access: "admin", params: IdParams },
    );
}
