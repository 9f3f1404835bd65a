/**
 * Knowledge-base schema, applied once in order by the storage migration runner.
 * Vector tables depend on the configured embedder's dimension, so the engine
 * creates them at run time (see `vector-index.ts`).
 */
export const kbMigrations: { id: string; sql: string }[] = [
  {
    id: "kb-001",
    sql: `
CREATE TABLE kb_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO kb_meta (key, value) VALUES ('version', '0');

CREATE TABLE kb_entries (
  rowid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  question TEXT NOT NULL,
  alts TEXT NOT NULL DEFAULT '[]',
  answer TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  enabled INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- One row per enabled entry (all phrasings), rowid = kb_entries.rowid. Terms are
-- produced by src/text/tokenize.ts (words, CJK unigrams and bigrams) and joined
-- with spaces, so unicode61 only splits on those spaces.
CREATE VIRTUAL TABLE kb_entry_fts USING fts5(
  terms, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 0'
);

-- Entry-level document frequency of every scorer feature (enabled entries only).
CREATE TABLE kb_df (
  feature TEXT PRIMARY KEY,
  df INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE kb_documents (
  rowid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT '',
  text TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE kb_chunks (
  rowid INTEGER PRIMARY KEY,
  doc_rowid INTEGER NOT NULL REFERENCES kb_documents(rowid) ON DELETE CASCADE,
  ord INTEGER NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX kb_chunks_doc ON kb_chunks(doc_rowid, ord);

CREATE VIRTUAL TABLE kb_chunk_fts USING fts5(
  terms, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 0'
);
`,
  },
];
