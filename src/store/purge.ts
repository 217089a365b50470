import type { Queryable } from './database.ts';
import { run } from './database.ts';
import { sql } from './sql.ts';

/** What survives an opt-out: who the person is and their choices (privacy-rules §2). */
export const KEPT_ON_OPT_OUT = ['Patient', 'Person', 'Consent'];

export interface PurgeCounts {
  resources: number;
  versions: number;
}

/**
 * Removes a person's health information in the caller's transaction: clinical resources with every version,
 * their index rows (via `deleteIndex`) and protected values, and the history of the kept demographic resources.
 * Kept Patients are rewritten to name, birth date, sex and identifiers by the caller.
 */
export async function purgePersonClinicalData(
  tx: Queryable,
  personId: string,
  deleteIndex: (tx: Queryable, keys: Array<{ resourceType: string; id: string }>) => Promise<void>,
): Promise<PurgeCounts> {
  const doomed = await run<{ resource_type: string; id: string }>(
    tx,
    sql`select resource_type, id from resources where person_id = ${personId} and not (resource_type = any(${KEPT_ON_OPT_OUT}::text[]))`,
  );
  const removed = await purgeResources(tx, doomed.map((d) => ({ resourceType: d.resource_type, id: d.id })), deleteIndex);
  // Versions of the person that no current row of theirs stands for go too.
  const orphans = await run<{ n: number }>(tx, sql`with gone as (
      delete from resource_history h where h.person_id = ${personId} and not (h.resource_type = any(${KEPT_ON_OPT_OUT}::text[]))
      returning 1) select count(*)::int as n from gone`);
  // Older versions of the kept Patients may hold addresses, phones or contacts: only the current, trimmed version stays.
  await run(tx, sql`delete from resource_history h using resources r
    where r.resource_type = h.resource_type and r.id = h.id and r.person_id = ${personId}
    and h.resource_type = 'Patient' and h.version_id < r.version_id`);
  return { resources: doomed.length, versions: removed + (orphans[0]?.n ?? 0) };
}

/**
 * Removes these resources in the caller's transaction: every version, their index rows (via `deleteIndex`),
 * protected values and notifications not yet sent. Returns the number of versions removed.
 */
export async function purgeResources(
  tx: Queryable,
  keys: Array<{ resourceType: string; id: string }>,
  deleteIndex: (tx: Queryable, keys: Array<{ resourceType: string; id: string }>) => Promise<void>,
): Promise<number> {
  if (keys.length === 0) return 0;
  await deleteIndex(tx, keys);
  const types = keys.map((k) => k.resourceType);
  const ids = keys.map((k) => k.id);
  await run(tx, sql`delete from protected_values where (resource_type, id) in (select * from unnest(${types}::text[], ${ids}::text[]))`);
  // Notifications not yet sent about them: there is nothing left to notify about.
  await run(tx, sql`delete from notification_outbox where (resource_type, id) in (select * from unnest(${types}::text[], ${ids}::text[]))`);
  const versions = await run<{ n: number }>(tx, sql`with gone as (
      delete from resource_history h where (h.resource_type, h.id) in (select * from unnest(${types}::text[], ${ids}::text[]))
      returning 1) select count(*)::int as n from gone`);
  await run(tx, sql`delete from resources where (resource_type, id) in (select * from unnest(${types}::text[], ${ids}::text[]))`);
  return versions[0]?.n ?? 0;
}

/** Rows still held for a person, per table that has a person column (used by verify-purge and tests). */
export async function countPersonRows(tx: Queryable, personId: string): Promise<Record<string, number>> {
  const tables = await run<{ table_name: string }>(
    tx,
    sql`select table_name from information_schema.columns where column_name = 'person_id' and table_schema = current_schema()`,
  );
  const out: Record<string, number> = {};
  for (const { table_name } of tables) {
    if (!/^[a-z_][a-z0-9_]*$/.test(table_name)) continue;
    const rows = await tx.query<{ n: number }>(`select count(*)::int as n from ${table_name} where person_id = $1`, [personId]);
    out[table_name] = rows.rows[0]?.n ?? 0;
  }
  return out;
}
