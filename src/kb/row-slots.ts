/**
 * Rows of an in-memory index (`sketch-index.ts`, `float-index.ts`) kept in dense slots 0..size-1 by rowid: a new
 * row takes the next slot, a deleted row's slot takes the last row, so a scan reads one packed typed array.
 */
export class RowSlots {
  private readonly slots = new Map<number, number>();
  rowids: Float64Array;
  size = 0;

  constructor(capacity: number) {
    this.rowids = new Float64Array(Math.max(1, capacity));
  }

  has(rowid: number): boolean {
    return this.slots.has(rowid);
  }

  slotOf(rowid: number): number | undefined {
    return this.slots.get(rowid);
  }

  /** The row's slot, a new one at the end for a new row; `grow(capacity)` first when the caller's arrays must grow. */
  add(rowid: number, grow: (capacity: number) => void): number {
    let slot = this.slots.get(rowid);
    if (slot === undefined) {
      slot = this.size++;
      if (slot >= this.rowids.length) {
        const capacity = this.rowids.length * 2;
        this.rowids = resized(this.rowids, capacity);
        grow(capacity);
      }
      this.slots.set(rowid, slot);
      this.rowids[slot] = rowid;
    }
    return slot;
  }

  /** Frees the row's slot (if it has one), `move(from, to)` copying the caller's data of the last slot into it. */
  delete(rowid: number, move: (from: number, to: number) => void): void {
    const slot = this.slots.get(rowid);
    if (slot === undefined) return;
    const last = --this.size;
    if (slot !== last) {
      move(last, slot);
      const moved = this.rowids[last]!;
      this.rowids[slot] = moved;
      this.slots.set(moved, slot);
    }
    this.slots.delete(rowid);
  }
}

/** A copy of `a` with room for `length` elements. */
export function resized<T extends Float32Array | Float64Array | Int32Array | Uint32Array>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a.subarray(0, Math.min(a.length, length)) as never);
  return b;
}
