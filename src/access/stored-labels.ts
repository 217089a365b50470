import type { Resource } from '@medplum/fhirtypes';
import { withAddedLabels } from '../privacy/labels/classifier.ts';
import type { Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';

interface CurrentRow {
  resource_type: string;
  id: string;
  version_id: number;
  security: string[] | null;
}

/**
 * Rewrites a resource's labels in place on its current version (`resources` and the matching history row, column
 * and `meta.security`): labels are metadata the HIE derives, not a change the sender made, so no new version.
 */
export async function saveLabelsInPlace(tx: Queryable, row: CurrentRow, security: string[], content: Resource): Promise<void> {
  await run(tx, sql`update resources set security = ${security}, content = ${content} where resource_type = ${row.resource_type} and id = ${row.id}`);
  await run(tx, sql`update resource_history set security = ${security}, content = ${content}
    where resource_type = ${row.resource_type} and id = ${row.id} and version_id = ${row.version_id}`);
}

/**
 * Adds sensitivity labels to stored resources in place (`additions` keyed `Type/id`; keys not stored are skipped).
 * A deleted resource's current row (the deletion) gains them too: history reads decide on it as well.
 * Returns what each changed resource gained.
 */
export async function addLabelsInPlace(tx: Queryable, additions: ReadonlyMap<string, readonly string[]>): Promise<Array<{ key: string; added: string[] }>> {
  const keys = [...additions.keys()].map((k) => /^([A-Z][A-Za-z]+)\/([^/]+)$/.exec(k)).filter((m): m is RegExpExecArray => !!m);
  if (keys.length === 0) return [];
  const rows = await run<CurrentRow & { content: Resource }>(tx, sql`select resource_type, id, version_id, security, content from resources
    where (resource_type, id) in (select * from unnest(${keys.map((k) => k[1])}::text[], ${keys.map((k) => k[2])}::text[]))
    order by resource_type, id for update`);
  const changed: Array<{ key: string; added: string[] }> = [];
  for (const row of rows) {
    const key = `${row.resource_type}/${row.id}`;
    const had = row.security ?? [];
    const next = withAddedLabels(row.content, had, additions.get(key) ?? []);
    if (!next) continue;
    await saveLabelsInPlace(tx, row, next.security, next.resource);
    changed.push({ key, added: next.security.filter((l) => !had.includes(l)) });
  }
  return changed;
}
