import type { Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';

/** One spelling per key whatever the percent-encoding (the HL7 v2 and C-CDA mappers encode differently). */
export function conditionalKey(type: string, query: string): string {
  return `${type}?${new URLSearchParams(query).toString()}`;
}

/**
 * Transaction-scoped advisory locks on conditional keys (`Type?identifier=…`), taken in one fixed (sorted) order so
 * two writers cannot deadlock. Without them, two transactions on parallel connections that both find nothing for
 * the same key both create it (PostgreSQL, READ COMMITTED); every later conditional create then matches two.
 */
export async function lockKeys(tx: Queryable, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  const sorted = [...new Set(keys)].sort();
  await run(tx, sql`select count(pg_advisory_xact_lock(hashtextextended(k, 0)))::int as n from unnest(${sorted}::text[]) with ordinality as t(k, i)`);
}

/**
 * Conditional keys recently seen to match a resource, per process (bounded, oldest forgotten first). A key that
 * exists cannot be created twice, so its transaction need not lock it; a stale entry (the resource was deleted
 * since) only costs a second look, after locking.
 */
export class ExistingKeys {
  private readonly keys = new Set<string>();

  constructor(private readonly capacity = 10_000) {}

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    this.keys.delete(key);
    this.keys.add(key);
    if (this.keys.size > this.capacity) this.keys.delete(this.keys.values().next().value as string);
  }

  delete(key: string): void {
    this.keys.delete(key);
  }
}
