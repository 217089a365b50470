import type { BundleEntry } from '@medplum/fhirtypes';
import type { Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';

/** The conditional keys (`Type?identifier=…`) a bundle creates or updates: what two concurrent messages could both create. */
export function conditionalKeys(entries: BundleEntry[]): string[] {
  const keys = new Set<string>();
  for (const e of entries) {
    const { method, url, ifNoneExist } = e.request ?? {};
    if (method === 'POST' && url && ifNoneExist) keys.add(conditionalKey(url, ifNoneExist));
    if (method === 'PUT' && url?.includes('?')) keys.add(conditionalKey(url.slice(0, url.indexOf('?')), url.slice(url.indexOf('?') + 1)));
  }
  return [...keys].sort();
}

/** One spelling per key whatever the percent-encoding (the HL7 v2 and C-CDA mappers encode differently). */
export function conditionalKey(type: string, query: string): string {
  return `${type}?${new URLSearchParams(query).toString()}`;
}

/**
 * Transaction-scoped advisory locks on those keys, taken in one fixed (sorted) order so two writers cannot deadlock.
 * Without them, two messages about the same organization or patient arriving on parallel connections both find
 * nothing and both create it (PostgreSQL, READ COMMITTED); every later conditional create then matches two.
 */
export async function lockKeys(tx: Queryable, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  await run(tx, sql`select count(pg_advisory_xact_lock(hashtextextended(k, 0)))::int as n from unnest(${keys}::text[]) with ordinality as t(k, i)`);
}
