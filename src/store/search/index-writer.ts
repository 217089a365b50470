import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../database.ts';
import { run } from '../database.ts';
import type { Sql } from '../sql.ts';
import { join, raw, sql } from '../sql.ts';
import type { ExtractedIndex } from './extract.ts';
import { extractIndex } from './extract.ts';

export interface ResourceKey {
  resourceType: string;
  id: string;
}

type Column = Array<string | null>;

const str = (c: Column) => sql`${c}::text[]`;

const TABLES: Array<{ key: keyof ExtractedIndex; table: Sql; fields: string[]; select: (c: Column[]) => Sql }> = [
  { key: 'string', table: sql`search_string`, fields: ['param', 'value', 'raw'],
    select: (c) => sql`insert into search_string (resource_type, id, param, value, raw) select * from unnest(${str(c[0])}, ${str(c[1])}, ${str(c[2])}, ${str(c[3])}, ${str(c[4])})` },
  { key: 'token', table: sql`search_token`, fields: ['param', 'system', 'value', 'display', 'typeSystem', 'typeCode'],
    select: (c) => sql`insert into search_token (resource_type, id, param, system, value, display, type_system, type_code) select * from unnest(${str(c[0])}, ${str(c[1])}, ${str(c[2])}, ${str(c[3])}, ${str(c[4])}, ${str(c[5])}, ${str(c[6])}, ${str(c[7])})` },
  { key: 'date', table: sql`search_date`, fields: ['param', 'lo', 'hi'],
    select: (c) => sql`insert into search_date (resource_type, id, param, lo, hi) select * from unnest(${str(c[0])}, ${str(c[1])}, ${str(c[2])}, ${c[3]}::timestamptz[], ${c[4]}::timestamptz[])` },
  { key: 'reference', table: sql`search_reference`, fields: ['param', 'targetType', 'targetId', 'ref'],
    select: (c) => sql`insert into search_reference (resource_type, id, param, target_type, target_id, ref) select * from unnest(${str(c[0])}, ${str(c[1])}, ${str(c[2])}, ${str(c[3])}, ${str(c[4])}, ${str(c[5])})` },
  { key: 'quantity', table: sql`search_quantity`, fields: ['param', 'value', 'system', 'code', 'unit'],
    select: (c) => sql`insert into search_quantity (resource_type, id, param, value, system, code, unit) select * from unnest(${str(c[0])}, ${str(c[1])}, ${str(c[2])}, ${c[3]}::numeric[], ${str(c[4])}, ${str(c[5])}, ${str(c[6])})` },
  { key: 'number', table: sql`search_number`, fields: ['param', 'value'],
    select: (c) => sql`insert into search_number (resource_type, id, param, value) select * from unnest(${str(c[0])}, ${str(c[1])}, ${str(c[2])}, ${c[3]}::numeric[])` },
  { key: 'uri', table: sql`search_uri`, fields: ['param', 'value'],
    select: (c) => sql`insert into search_uri (resource_type, id, param, value) select * from unnest(${str(c[0])}, ${str(c[1])}, ${str(c[2])}, ${str(c[3])})` },
];

/** Extracts every resource and lays the rows out column-wise per table; `base` as for `extractIndex`. */
export function buildColumns(resources: Resource[], base?: string): Map<keyof ExtractedIndex, Column[]> {
  const out = new Map<keyof ExtractedIndex, Column[]>(TABLES.map((t) => [t.key, [[], [], ...t.fields.map(() => [])]]));
  for (const resource of resources) {
    const index = extractIndex(resource, base);
    for (const t of TABLES) {
      const cols = out.get(t.key) as Column[];
      for (const row of index[t.key] as Array<Record<string, unknown>>) {
        cols[0].push(resource.resourceType);
        cols[1].push(resource.id as string);
        t.fields.forEach((f, i) => cols[i + 2].push((row[f] as string | null | undefined) ?? null));
      }
    }
  }
  return out;
}

/**
 * Runs several data-modifying statements as one (each a CTE of `with … select 1`): one round trip for all index
 * tables. PostgreSQL runs every data-modifying CTE exactly once, whether or not the main query reads it.
 */
async function runTogether(tx: Queryable, statements: Sql[]): Promise<void> {
  if (statements.length === 0) return;
  if (statements.length === 1) {
    await run(tx, statements[0]);
    return;
  }
  const ctes = statements.map((st, i) => sql`${raw(`w${i}`)} as (${st})`);
  await run(tx, sql`with ${join(ctes, ', ')} select 1`);
}

/** Removes every index row of the given resources (one statement for all tables). */
export async function deleteIndex(tx: Queryable, keys: ResourceKey[]): Promise<void> {
  if (keys.length === 0) return;
  const types = keys.map((k) => k.resourceType);
  const ids = keys.map((k) => k.id);
  await runTogether(tx, TABLES.map((t) => sql`delete from ${t.table} where (resource_type, id) in (select * from unnest(${types}::text[], ${ids}::text[]))`));
}

/**
 * Replaces the index rows of the given resources: deletes the old rows, then one INSERT … unnest per table for the
 * whole batch, all tables in one statement. `fresh: true` skips the delete for resources known to be new; `base` is
 * this server's FHIR base, as for `extractIndex`.
 */
export async function writeIndex(tx: Queryable, resources: Resource[], opts: { fresh?: boolean; base?: string } = {}): Promise<void> {
  if (resources.length === 0) return;
  for (const r of resources) if (!r.id) throw new Error('writeIndex: resource without id');
  if (!opts.fresh) await deleteIndex(tx, resources.map((r) => ({ resourceType: r.resourceType, id: r.id as string })));
  const columns = buildColumns(resources, opts.base);
  await runTogether(tx, TABLES.flatMap((t) => {
    const cols = columns.get(t.key) as Column[];
    return cols[0].length > 0 ? [t.select(cols)] : [];
  }));
}
