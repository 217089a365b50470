// Block key → member records for the ordered linker, built for a million records: no strings and no object per
// block or member. A Map of 15 million `rule:value` strings to arrays kept the whole index in the garbage
// collector's view; at 1,000,000 records collection dominated the pass (5.7 GiB after 16 minutes).
//
// Keys are held as 64-bit hashes (two independent 32-bit hashes of the key's UTF-16 units) in an open-addressing
// table of block numbers; a block's members are a chain of entries in typed arrays, in insertion order. Two keys
// share a block only if both hashes collide: with n distinct keys the chance of any merge is about n² / 2^65
// (3·10⁻⁶ for 8 million keys), and a merge could only add candidates, never lose one.

const EMPTY = -1;

function grow(a: Int32Array<ArrayBuffer>, size: number): Int32Array<ArrayBuffer> {
  if (size <= a.length) return a;
  const b = new Int32Array(Math.max(size, a.length * 2));
  b.set(a);
  return b;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

export class BlockIndex {
  private table = new Int32Array(1 << 16).fill(EMPTY);
  private mask = (1 << 16) - 1;
  private blocks = 0;
  private hashA = new Int32Array(1 << 15);
  private hashB = new Int32Array(1 << 15);
  private head = new Int32Array(1 << 15);
  private tail = new Int32Array(1 << 15);
  private counts = new Int32Array(1 << 15);
  private entries = 0;
  private member = new Int32Array(1 << 16);
  private next = new Int32Array(1 << 16);
  private a = 0;
  private b = 0;

  /**
   * @param cap blocks with this many members are never read again (candidate retrieval skips them), so members
   * past it are counted, not stored.
   */
  constructor(private readonly cap: number) {}

  private hash(key: string): void {
    let a = 0x811c9dc5;
    let b = 0x9747b28c;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    this.a = fmix(a ^ key.length);
    this.b = fmix(b + key.length);
  }

  /** Table slot of the hashed key: its block's slot, or the empty slot where it would go. */
  private slot(): number {
    let i = this.a & this.mask;
    for (;;) {
      const block = this.table[i];
      if (block === EMPTY || (this.hashA[block] === this.a && this.hashB[block] === this.b)) return i;
      i = (i + 1) & this.mask;
    }
  }

  private rehash(): void {
    const size = this.table.length * 2;
    this.table = new Int32Array(size).fill(EMPTY);
    this.mask = size - 1;
    for (let block = 0; block < this.blocks; block++) {
      let i = this.hashA[block] & this.mask;
      while (this.table[i] !== EMPTY) i = (i + 1) & this.mask;
      this.table[i] = block;
    }
  }

  /** The block of a key, or -1. */
  find(key: string): number {
    this.hash(key);
    return this.table[this.slot()];
  }

  /** Members so far (including those past the cap, which are not stored). */
  size(block: number): number {
    return this.counts[block];
  }

  /** Calls `f` with each stored member, in insertion order. */
  forEach(block: number, f: (member: number) => void): void {
    for (let e = this.head[block]; e !== EMPTY; e = this.next[e]) f(this.member[e]);
  }

  add(key: string, record: number): void {
    this.hash(key);
    let i = this.slot();
    let block = this.table[i];
    if (block === EMPTY) {
      if ((this.blocks + 1) * 2 > this.table.length) {
        this.rehash();
        i = this.slot();
      }
      block = this.blocks++;
      this.table[i] = block;
      this.hashA = grow(this.hashA, this.blocks);
      this.hashB = grow(this.hashB, this.blocks);
      this.head = grow(this.head, this.blocks);
      this.tail = grow(this.tail, this.blocks);
      this.counts = grow(this.counts, this.blocks);
      this.hashA[block] = this.a;
      this.hashB[block] = this.b;
      this.head[block] = EMPTY;
      this.counts[block] = 0;
    }
    if (this.counts[block]++ >= this.cap) return;
    const e = this.entries++;
    this.member = grow(this.member, this.entries);
    this.next = grow(this.next, this.entries);
    this.member[e] = record;
    this.next[e] = EMPTY;
    if (this.head[block] === EMPTY) this.head[block] = e;
    else this.next[this.tail[block]] = e;
    this.tail[block] = e;
  }
}
