import { closeSync, openSync, readSync } from 'node:fs';
import type { Resource } from '@medplum/fhirtypes';

const READ_SIZE = 1 << 20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const ENTRY = 'entry';

/**
 * Splits the bytes of a JSON Bundle into its `entry` items without parsing the rest. JSON structure is ASCII, and no
 * byte of a multi-byte UTF-8 character is ASCII, so bytes are scanned as they come; an item may span reads.
 */
class EntryScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The bytes of the current top-level string while it can still be `entry`. */
  private key: number[] | undefined;
  private lastKey = '';
  private inEntries = false;
  private item: Buffer[] = [];
  private itemStart = -1;

  constructor(private readonly emit: (json: string) => void) {}

  feed(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) {
          this.inString = false;
          if (this.key) this.lastKey = Buffer.from(this.key).toString('latin1');
          this.key = undefined;
        } else if (this.key) {
          this.key.push(c);
          if (this.key.length > ENTRY.length) this.key = undefined;
        }
        continue;
      }
      if (c === QUOTE) {
        this.inString = true;
        if (this.depth === 1) {
          this.key = [];
          this.lastKey = '';
        }
      } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        this.depth++;
        if (this.depth === 2 && c === OPEN_ARRAY && this.lastKey === ENTRY) this.inEntries = true;
        else if (this.depth === 3 && this.inEntries) this.itemStart = i;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (this.depth === 3 && this.inEntries) {
          this.item.push(chunk.subarray(this.itemStart, i + 1));
          this.emit(Buffer.concat(this.item).toString('utf8'));
          this.item = [];
          this.itemStart = -1;
        } else if (this.depth === 2) this.inEntries = false;
        this.depth--;
      }
    }
    if (this.itemStart >= 0) {
      this.item.push(chunk.subarray(this.itemStart));
      this.itemStart = 0;
    }
  }
}

/**
 * Calls `each` with the resource of every entry of a Bundle file, in order, parsing one entry at a time from 1 MB
 * reads. The bundle is never in memory whole: each entry's text and objects die young (a scavenge frees them)
 * instead of filling the old generation, whose size after start-up sets how far V8 lets the heap grow.
 * `readSize` is for tests, which split entries and characters across reads.
 */
export function forEachBundleResource<T extends Resource>(path: string, each: (resource: T) => void, readSize = READ_SIZE): void {
  const scanner = new EntryScanner((json) => {
    const entry = JSON.parse(json) as { resource?: T };
    if (entry.resource) each(entry.resource);
  });
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      // A fresh buffer per read: an entry still open at the end of a read keeps a view of it.
      const chunk = Buffer.allocUnsafeSlow(readSize);
      const n = readSync(fd, chunk, 0, readSize, null);
      if (n === 0) break;
      scanner.feed(chunk.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
}
