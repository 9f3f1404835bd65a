/**
 * sqlite-vec tables whose shape depends on the embedder: one float vector per
 * row for exact cosine, plus its sign bits for a fast Hamming pre-filter on large
 * knowledge bases (brute-force float KNN over 100k rows costs ~25 ms here). The
 * Hamming search itself runs over an in-memory copy of the sign bits
 * (`sketch-index.ts`), loaded on first use and kept in step by `put`/`delete`; a
 * caller whose transaction rolled back, or who sees another process's writes,
 * calls `resetSketch` and the copy is reloaded from the table.
 *
 * Vectors are also kept in a plain rowid table for point look-ups: reading one
 * vector back from vec0 by rowid cost ~120 µs on a file database (it goes through
 * the chunk blobs), a plain B-tree row ~7 µs, and every query reads 30–60 of them to
 * re-score candidates. The copy costs 4 bytes per dimension per row on disk. The
 * knowledge base records the version at which the copies were last kept in step
 * and rebuilds them (`rebuildRows`) when an older release wrote after that.
 */
import type { Database, Statement } from "bun:sqlite";
import { signBits } from "./embedder.ts";
import { FloatIndex } from "./float-index.ts";
import { SketchIndex } from "./sketch-index.ts";

export interface VectorIndexOptions {
  /**
   * Up to this many rows (and while they fit one vec0 chunk), exact search runs over an in-memory copy of the
   * vectors (`float-index.ts`, same results as vec0); 0 (default): always vec0. The copy is loaded on first use,
   * kept in step by `put`/`delete` and dropped by `resetMemory`, so only a caller that resets it when someone
   * else may have written (another process, a rolled-back transaction) should turn it on.
   */
  memoryRows?: number;
}

/** Rows of a vec0 chunk (sqlite-vec's default `chunk_size`). */
const VEC0_CHUNK = 1024;

export class VectorIndex {
  private insertStmt: Statement;
  private deleteStmt: Statement;
  private insertRowStmt: Statement;
  private deleteRowStmt: Statement;
  private exactStmt: Statement;
  private getStmt: Statement;
  private sketch: SketchIndex | null = null;
  /** In-memory copy for exact search; null: not loaded; false: too big (or several chunks) until the next reset. */
  private floats: FloatIndex | null | false = null;
  private readonly memoryRows: number;
  private slotStmt: Statement;

  constructor(
    private readonly db: Database,
    readonly table: string,
    readonly dim: number,
    options: VectorIndexOptions = {},
  ) {
    this.memoryRows = Math.min(options.memoryRows ?? 0, VEC0_CHUNK);
    db.run(
      `CREATE VIRTUAL TABLE IF NOT EXISTS ${table} USING vec0(embedding float[${dim}] distance_metric=cosine, sketch bit[${dim}])`,
    );
    db.run(`CREATE TABLE IF NOT EXISTS ${table}_rows(rowid INTEGER PRIMARY KEY, embedding BLOB NOT NULL)`);
    this.insertStmt = db.prepare(`INSERT INTO ${table}(rowid, embedding, sketch) VALUES (?, ?, vec_bit(?))`);
    this.deleteStmt = db.prepare(`DELETE FROM ${table} WHERE rowid = ?`);
    this.insertRowStmt = db.prepare(`INSERT OR REPLACE INTO ${table}_rows(rowid, embedding) VALUES (?, ?)`);
    this.deleteRowStmt = db.prepare(`DELETE FROM ${table}_rows WHERE rowid = ?`);
    this.exactStmt = db.prepare(`SELECT rowid, distance FROM ${table} WHERE embedding MATCH ? AND k = ?`);
    this.getStmt = db.prepare(`SELECT embedding FROM ${table}_rows WHERE rowid = ?`);
    this.slotStmt = db.prepare(`SELECT chunk_id, chunk_offset FROM ${table}_rowids WHERE rowid = ?`);
  }

  /**
   * Copies every vector of the vec0 table into the row table again (a database last
   * written by a release that did not keep the copies). No-op when the tables do not exist.
   */
  static rebuildRows(db: Database, table: string): void {
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = ?").get(table)) return;
    db.run(`CREATE TABLE IF NOT EXISTS ${table}_rows(rowid INTEGER PRIMARY KEY, embedding BLOB NOT NULL)`);
    db.run(`DELETE FROM ${table}_rows`);
    db.run(`INSERT INTO ${table}_rows(rowid, embedding) SELECT rowid, embedding FROM ${table}`);
  }

  static drop(db: Database, table: string): void {
    db.run(`DROP TABLE IF EXISTS ${table}`);
    db.run(`DROP TABLE IF EXISTS ${table}_rows`);
  }

  put(rowid: number, v: Float32Array): void {
    const bits = signBits(v);
    this.deleteStmt.run(rowid);
    this.insertStmt.run(rowid, v, bits);
    this.insertRowStmt.run(rowid, v);
    this.sketch?.set(rowid, bits);
    if (this.floats) {
      const slot = this.slotStmt.get(rowid) as { chunk_id: number; chunk_offset: number } | null;
      // A row in a second chunk, or one too many: vec0 from now on (until the next reset).
      if (slot?.chunk_id === this.floatChunk && (this.floats.has(rowid) || this.floats.size < this.memoryRows)) this.floats.set(rowid, v, slot.chunk_offset);
      else this.floats = false;
    }
  }

  delete(rowid: number): void {
    this.deleteStmt.run(rowid);
    this.deleteRowStmt.run(rowid);
    this.sketch?.delete(rowid);
    if (this.floats) this.floats.delete(rowid);
  }

  /** Forgets the in-memory copies (sign bits, float vectors); the next search reloads them from the table. */
  resetMemory(): void {
    this.sketch = null;
    this.floats = null;
  }

  get(rowid: number): Float32Array | null {
    const row = this.getStmt.get(rowid) as { embedding: Uint8Array } | null;
    if (!row) return null;
    const b = row.embedding;
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }

  /** Exact cosine nearest neighbours: [rowid, cosine] best first. */
  nearest(v: Float32Array, k: number): [number, number][] {
    if (k <= 0) return [];
    if (this.memoryRows > 0 && this.floats === null) this.loadFloats();
    const fast = this.floats ? this.floats.nearest(v, k) : null;
    return fast ?? (this.exactStmt.all(v, k) as { rowid: number; distance: number }[]).map((r) => [r.rowid, 1 - r.distance]);
  }

  private floatChunk = -1;

  /** Loads the vectors into memory when they are few and in one chunk (where the order of ties is vec0's). */
  private loadFloats(): void {
    const chunks = this.db.prepare(`SELECT chunk_id FROM ${this.table}_chunks`).all() as { chunk_id: number }[];
    const n = (this.db.prepare(`SELECT count(*) AS n FROM ${this.table}_rowids`).get() as { n: number }).n;
    if (chunks.length > 1 || n > this.memoryRows) {
      this.floats = false;
      return;
    }
    const floats = new FloatIndex(this.dim);
    // A table never written has no chunk yet; vec0 creates chunk 1 on the first insert.
    this.floatChunk = chunks[0]?.chunk_id ?? 1;
    const slots = this.db.prepare(`SELECT rowid, chunk_id, chunk_offset FROM ${this.table}_rowids`).all() as { rowid: number; chunk_id: number; chunk_offset: number }[];
    const bySlot = new Map(slots.map((r) => [r.rowid, r]));
    for (const r of this.db.prepare(`SELECT rowid, embedding FROM ${this.table}`).iterate() as Iterable<{ rowid: number; embedding: Uint8Array }>) {
      const slot = bySlot.get(r.rowid);
      if (slot?.chunk_id !== this.floatChunk) {
        this.floats = false;
        return;
      }
      floats.set(r.rowid, new Float32Array(r.embedding.slice().buffer), slot.chunk_offset);
    }
    this.floats = floats;
  }

  /** Hamming nearest neighbours over sign bits (candidates only; rescore with `get`). */
  nearestBySketch(v: Float32Array, k: number): number[] {
    if (k <= 0) return [];
    if (!this.sketch) {
      const sketch = new SketchIndex(Math.ceil(this.dim / 32));
      for (const r of this.db.prepare(`SELECT rowid, sketch FROM ${this.table}`).iterate() as Iterable<{ rowid: number; sketch: Uint8Array }>) {
        sketch.set(r.rowid, r.sketch);
      }
      this.sketch = sketch;
    }
    return this.sketch.nearest(signBits(v), k);
  }
}
