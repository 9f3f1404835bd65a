/**
 * Request shapes of the knowledge-base admin API, each defined once. Bodies are strict (an unknown field is a
 * 400 naming it, see errors-plugin.ts) and snake_case; queries are not (a stray `?_=` from a cache buster is fine).
 */
import { t } from "elysia";

const strict = { additionalProperties: false } as const;

/** Longest question or alternative, and most alternatives, an entry may have (also when made from unanswered questions). */
export const MAX_QUESTION_CHARS = 2000;
export const MAX_ALT_QUESTIONS = 500;

const entryFields = {
  question: t.String({ minLength: 1, maxLength: MAX_QUESTION_CHARS }),
  alt_questions: t.Optional(t.Array(t.String({ maxLength: MAX_QUESTION_CHARS }), { maxItems: MAX_ALT_QUESTIONS })),
  answer: t.String({ minLength: 1, maxLength: 100_000 }),
  tags: t.Optional(t.Array(t.String({ maxLength: 100 }), { maxItems: 50 })),
  enabled: t.Optional(t.Boolean()),
};

export const EntryBody = t.Object({ id: t.Optional(t.String({ minLength: 1, maxLength: 200 })), ...entryFields }, strict);

/** PUT: the fields given replace the entry's; the others keep their value. Creating needs question and answer. */
export const EntryUpdateBody = t.Partial(t.Object(entryFields), strict);

/** A route that takes no fields: no body, `{}`, or a 400 naming the field sent (it would otherwise be ignored). */
export const NoFieldsBody = t.Optional(t.Object({}, strict));

export const IdParams = t.Object({ id: t.String({ minLength: 1, maxLength: 200 }) });

/**
 * Why a new entry id could never be named in a path (/entries/:id), or null. An encoded slash, backslash or NUL,
 * and dot segments, are refused by src/server/request-target.ts: such an entry could be made but not read, edited
 * or deleted. (Entries that already have such an id keep it.)
 */
export function unnameableId(id: string): string | null {
  return /[/\\\x00]/.test(id) || id === "." || id === ".." ? `id ${JSON.stringify(id)} may not contain / or \\, or be . or ..` : null;
}

export const ENTRY_SORTS = ["updated", "hits", "last_hit", "question"] as const;
export type EntrySort = (typeof ENTRY_SORTS)[number];

export const ListQuery = t.Object({
  // Integers only: SQLite refuses 1.5 or 1e20 as LIMIT/OFFSET (a 500 before).
  offset: t.Optional(t.Integer({ minimum: 0, maximum: 1_000_000_000 })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500 })),
  q: t.Optional(t.String({ maxLength: 500 })),
  tag: t.Optional(t.String({ maxLength: 100 })),
  enabled: t.Optional(t.Boolean()),
  sort: t.Optional(t.Union(ENTRY_SORTS.map((s) => t.Literal(s)))),
  order: t.Optional(t.Union([t.Literal("asc"), t.Literal("desc")])),
});

export const SearchQuery = t.Object({
  q: t.String({ minLength: 1, maxLength: 2000 }),
  k: t.Optional(t.Integer({ minimum: 1, maximum: 50 })),
});

export const BulkBody = t.Object(
  {
    action: t.Union([t.Literal("delete"), t.Literal("enable"), t.Literal("disable")]),
    ids: t.Array(t.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 10_000 }),
  },
  strict,
);

export const IMPORT_FORMATS = ["csv", "xlsx", "json", "jsonl", "markdown", "document"] as const;

/**
 * POST /import, whatever the body's content type: a JSON body as it is, a multipart form's fields (`file` read into
 * `text` and `file_name`), or a raw body's query parameters with the body as `text` (`import/request.ts`).
 */
export const ImportBody = t.Object(
  {
    /** The file's text (format xlsx: the workbook in base64). */
    text: t.String({ maxLength: 50_000_000 }),
    format: t.Optional(t.Union(IMPORT_FORMATS.map((f) => t.Literal(f)))),
    /** Name of the uploaded file (multipart), used to tell the format and as a document's default title. */
    file_name: t.Optional(t.String({ maxLength: 500 })),
    mode: t.Optional(t.Union([t.Literal("upsert"), t.Literal("replace")])),
    dry_run: t.Optional(t.Boolean()),
    skip_invalid: t.Optional(t.Boolean()),
    /** Document title / id (format "document"). */
    title: t.Optional(t.String({ maxLength: 500 })),
    document_id: t.Optional(t.String({ maxLength: 200 })),
    chunk_size: t.Optional(t.Integer({ minimum: 50, maximum: 20_000 })),
    chunk_overlap: t.Optional(t.Integer({ minimum: 0, maximum: 10_000 })),
  },
  strict,
);

export const ExportQuery = t.Object({
  format: t.Optional(t.Union([t.Literal("csv"), t.Literal("jsonl")])),
});

export const TemplateQuery = t.Object({
  lang: t.Optional(t.Union([t.Literal("zh"), t.Literal("en")])),
});
