/**
 * Documents (title, source, text) split into chunks, indexed in FTS5 and
 * sqlite-vec for retrieval-augmented answers. Chunk relevance is a similarity,
 * not the calibrated confidence FAQ entries get: chunks feed a generator, they are
 * never returned verbatim as "the" answer.
 */
import type { Database, Statement } from "bun:sqlite";
import { KefuError } from "../errors/kefu-error.ts";
import { type ChunkOptions, chunkText } from "../text/chunk.ts";
import { normalizeForMatch } from "../text/normalize.ts";
import { indexTerms } from "../text/tokenize.ts";
import { cosine, type Embedder, embedQuery } from "./embedder.ts";
import { dot, prepareQuery, type TermStats, vectorize } from "./scorer.ts";
import type { DocumentInput, KbDocument } from "./types.ts";
import { VectorIndex } from "./vector-index.ts";

export const CHUNK_VEC_TABLE = "kb_chunk_vec";

export interface ChunkMatch {
  documentId: string;
  title: string;
  chunk: number;
  text: string;
  /** 0..1 similarity: mean of sparse and embedding cosine. */
  relevance: number;
}

interface DocRow {
  rowid: number;
  id: string;
  title: string;
  source: string;
  text: string;
  created_at: number;
  updated_at: number;
}

/**
 * The id of a document added without one: a content address, SHA-256 (first 128 bits) of the normalized title and
 * the full text. Importing the same document again gives the same id (reported "unchanged"); two different documents
 * never share an id, even with the same title, so neither silently replaces the other. The price: a document whose
 * text was edited gets a new id and is *added* beside its old version — to replace a document in place, give it an
 * explicit id (`id`, the import's `documentId`) or delete the old one. `title` and `text` as `upsert` stores them
 * (trimmed); the title is compared after `normalizeForMatch`, the text exactly.
 */
export function defaultDocumentId(title: string, text: string): string {
  const h = new Bun.CryptoHasher("sha256").update(JSON.stringify([normalizeForMatch(title), text])).digest("hex");
  return `d-${h.slice(0, 32)}`;
}

/**
 * The id earlier versions gave a document: normalized title and text *length* only, so different texts of one
 * length collided. Only looked up to find an old copy of exactly the same title and text (see `upsert`).
 */
export function legacyDocumentId(title: string, text: string): string {
  return `d-${Bun.hash(`${normalizeForMatch(title)}\n${text.length}`).toString(16).padStart(16, "0")}`;
}

const toDoc = (r: DocRow): KbDocument => ({
  id: r.id,
  title: r.title,
  source: r.source,
  text: r.text,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class DocumentIndex {
  private vectors: VectorIndex;
  private readonly s: Record<string, Statement>;

  /**
   * `serialize` is the knowledge base's write lock: document writes wait for entry writes and re-indexing (which
   * re-embeds every chunk it read before its transaction) and the other way round.
   */
  constructor(
    private readonly db: Database,
    private readonly embedder: () => Embedder,
    private readonly bump: () => void,
    private readonly serialize: <T>(fn: () => Promise<T>) => Promise<T>,
  ) {
    this.vectors = new VectorIndex(db, CHUNK_VEC_TABLE, embedder().dim);
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      byId: p("SELECT * FROM kb_documents WHERE id = ?"),
      insert: p("INSERT INTO kb_documents(id, title, source, text, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING rowid"),
      update: p("UPDATE kb_documents SET title = ?, source = ?, text = ?, updated_at = ? WHERE rowid = ?"),
      remove: p("DELETE FROM kb_documents WHERE rowid = ?"),
      chunksOf: p("SELECT rowid FROM kb_chunks WHERE doc_rowid = ?"),
      chunkInsert: p("INSERT INTO kb_chunks(doc_rowid, ord, text) VALUES (?, ?, ?) RETURNING rowid"),
      chunkDelete: p("DELETE FROM kb_chunks WHERE rowid = ?"),
      chunk: p("SELECT c.rowid, c.ord, c.text, d.id, d.title FROM kb_chunks c JOIN kb_documents d ON d.rowid = c.doc_rowid WHERE c.rowid = ?"),
      ftsInsert: p("INSERT INTO kb_chunk_fts(rowid, terms) VALUES (?, ?)"),
      ftsDelete: p("DELETE FROM kb_chunk_fts WHERE rowid = ?"),
      ftsSearch: p("SELECT rowid FROM kb_chunk_fts WHERE kb_chunk_fts MATCH ? ORDER BY rank LIMIT ?"),
      anyChunk: p("SELECT 1 FROM kb_chunks LIMIT 1"),
    };
  }

  get(id: string): KbDocument | null {
    const r = this.s.byId!.get(id) as DocRow | null;
    return r ? toDoc(r) : null;
  }

  list(): Omit<KbDocument, "text">[] {
    return (this.db.prepare("SELECT * FROM kb_documents ORDER BY rowid").all() as DocRow[]).map((r) => {
      const { text: _text, ...rest } = toDoc(r);
      return rest;
    });
  }

  /**
   * Adds or replaces a document and its chunks. With an `id` it replaces the document of that id; without one the id is
   * `defaultDocumentId` (same title and text → same document; anything else is added, never overwrites).
   */
  async upsert(
    input: DocumentInput,
    options: ChunkOptions & { chunks?: string[] } = {},
  ): Promise<{ id: string; action: "added" | "updated" | "unchanged"; chunks: number }> {
    const title = input.title.trim();
    const text = input.text.trim();
    if (!title || !text) throw new KefuError("invalid_document", 400, "document title and text must not be empty");
    const explicitId = input.id?.trim();
    const source = input.source ?? "";
    // `chunks`: the very chunks another node made of this text (cluster mode's `src/cluster/kb-sync.ts`).
    const chunks = options.chunks ?? chunkText(text, options);
    return this.serialize(async () => {
      const id = explicitId || this.defaultId(title, text);
      const unchanged = (r: DocRow | null) => r && r.title === title && r.text === text && r.source === source;
      if (unchanged(this.s.byId!.get(id) as DocRow | null)) return { id, action: "unchanged" as const, chunks: chunks.length };
      const vectors = await this.embedder().embed(chunks);
      const now = Date.now();
      // Read again after the wait: another process may have written the same document meanwhile.
      const old = this.s.byId!.get(id) as DocRow | null;
      this.db.transaction(() => {
        let rowid: number;
        if (old) {
          rowid = old.rowid;
          this.dropChunks(rowid);
          this.s.update!.run(title, source, text, now, rowid);
        } else {
          rowid = (this.s.insert!.get(id, title, source, text, now, now) as { rowid: number }).rowid;
        }
        chunks.forEach((c, i) => {
          const crow = (this.s.chunkInsert!.get(rowid, i, c) as { rowid: number }).rowid;
          this.s.ftsInsert!.run(crow, indexTerms(`${title} ${c}`).join(" "));
          this.vectors.put(crow, vectors[i]!);
        });
        this.bump();
      })();
      return { id, action: old ? ("updated" as const) : ("added" as const), chunks: chunks.length };
    });
  }

  delete(id: string): Promise<boolean> {
    return this.serialize(async () => {
      const old = this.s.byId!.get(id) as DocRow | null;
      if (!old) return false;
      this.db.transaction(() => {
        this.dropChunks(old.rowid);
        this.s.remove!.run(old.rowid);
        this.bump();
      })();
      return true;
    });
  }

  /** Re-embeds every chunk; the returned function swaps vectors and full-text terms in (call it in a transaction). */
  async embedAll(embedder: Embedder): Promise<() => void> {
    const rows = this.db
      .prepare("SELECT c.rowid AS rowid, c.text AS text, d.title AS title FROM kb_chunks c JOIN kb_documents d ON d.rowid = c.doc_rowid ORDER BY c.rowid")
      .all() as { rowid: number; text: string; title: string }[];
    const vs = rows.length ? await embedder.embed(rows.map((r) => r.text)) : [];
    return () => {
      // Terms too: re-indexing also follows a change of the tokenizer (TEXT_VERSION).
      this.db.run("DELETE FROM kb_chunk_fts");
      for (const r of rows) this.s.ftsInsert!.run(r.rowid, indexTerms(`${r.title} ${r.text}`).join(" "));
      VectorIndex.drop(this.db, CHUNK_VEC_TABLE);
      this.vectors = new VectorIndex(this.db, CHUNK_VEC_TABLE, embedder.dim);
      rows.forEach((r, i) => this.vectors.put(r.rowid, vs[i]!));
    };
  }

  async search(query: string, stats: TermStats, k = 5): Promise<ChunkMatch[]> {
    // Most knowledge bases have no documents: then nothing to embed the query for (the entry search already did).
    if (!this.s.anyChunk!.get()) return [];
    // The only wait comes first, so the vectors compared below are the ones the query was embedded for.
    const qv = await embedQuery(this.embedder, query);
    const terms = [...new Set(indexTerms(query))];
    const rowids = new Set<number>();
    if (terms.length) {
      const expr = terms.slice(0, 32).map((t) => `"${t}"`).join(" OR ");
      for (const r of this.s.ftsSearch!.all(expr, k * 4) as { rowid: number }[]) rowids.add(r.rowid);
    }
    for (const [rowid] of this.vectors.nearest(qv, k * 4)) rowids.add(rowid);
    const q = prepareQuery(query, stats);
    const out: ChunkMatch[] = [];
    for (const rowid of rowids) {
      const c = this.s.chunk!.get(rowid) as { ord: number; text: string; id: string; title: string } | null;
      if (!c) continue;
      const v = this.vectors.get(rowid);
      const sparse = dot(q.vec, vectorize(`${c.title} ${c.text}`, stats));
      const dense = v ? Math.max(cosine(qv, v), 0) : 0;
      out.push({ documentId: c.id, title: c.title, chunk: c.ord, text: c.text, relevance: (sparse + dense) / 2 });
    }
    return out.sort((a, b) => b.relevance - a.relevance).slice(0, k);
  }

  /** `defaultDocumentId`, or the legacy id when an older release stored this very document (same title and text) under it. */
  private defaultId(title: string, text: string): string {
    const id = defaultDocumentId(title, text);
    if (this.s.byId!.get(id)) return id;
    const legacy = this.s.byId!.get(legacyDocumentId(title, text)) as DocRow | null;
    return legacy && legacy.text === text && normalizeForMatch(legacy.title) === normalizeForMatch(title) ? legacy.id : id;
  }

  private dropChunks(docRowid: number): void {
    for (const { rowid } of this.s.chunksOf!.all(docRowid) as { rowid: number }[]) {
      this.s.ftsDelete!.run(rowid);
      this.vectors.delete(rowid);
      this.s.chunkDelete!.run(rowid);
    }
  }
}
