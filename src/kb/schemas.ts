/** Request shapes of the knowledge-base admin API, each defined once. */
import { t } from "elysia";

export const EntryBody = t.Object({
  id: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
  question: t.String({ minLength: 1, maxLength: 2000 }),
  alts: t.Optional(t.Array(t.String({ maxLength: 2000 }), { maxItems: 500 })),
  answer: t.String({ minLength: 1, maxLength: 100_000 }),
  tags: t.Optional(t.Array(t.String({ maxLength: 100 }), { maxItems: 50 })),
  enabled: t.Optional(t.Boolean()),
});

export const EntryUpdateBody = t.Omit(EntryBody, ["id"]);

export const IdParams = t.Object({ id: t.String({ minLength: 1, maxLength: 200 }) });

export const ListQuery = t.Object({
  // Integers only: SQLite refuses 1.5 or 1e20 as LIMIT/OFFSET (a 500 before).
  offset: t.Optional(t.Integer({ minimum: 0, maximum: 1_000_000_000 })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500 })),
  q: t.Optional(t.String({ maxLength: 500 })),
  tag: t.Optional(t.String({ maxLength: 100 })),
});

export const SearchQuery = t.Object({
  q: t.String({ minLength: 1, maxLength: 2000 }),
  k: t.Optional(t.Integer({ minimum: 1, maximum: 50 })),
});

export const ImportBody = t.Object({
  /** The file's text. */
  text: t.String({ maxLength: 50_000_000 }),
  format: t.Union([t.Literal("csv"), t.Literal("json"), t.Literal("jsonl"), t.Literal("markdown"), t.Literal("document")]),
  dryRun: t.Optional(t.Boolean()),
  skipInvalid: t.Optional(t.Boolean()),
  /** Document title / id (format "document"). */
  title: t.Optional(t.String({ maxLength: 500 })),
  documentId: t.Optional(t.String({ maxLength: 200 })),
  chunkSize: t.Optional(t.Integer({ minimum: 50, maximum: 20_000 })),
  chunkOverlap: t.Optional(t.Integer({ minimum: 0, maximum: 10_000 })),
});

export const ExportQuery = t.Object({
  format: t.Optional(t.Union([t.Literal("csv"), t.Literal("jsonl")])),
});
