import type { RecordedRead } from '../access/audit-sink.ts';
import type { Sql } from '../store/sql.ts';
import { raw, sql } from '../store/sql.ts';
import { canonicalJson } from './canonical.ts';
import { appendCtes, FACT_COLUMNS } from './chain.ts';
import { factsRow } from './entry.ts';
import { auditFacts } from './events.ts';
import { ROW_PERSONS, ROW_REFS } from './types.ts';

/** One possible entry as the statement receives it: the stored columns and the canonical text its hash covers. */
interface EntryTemplate {
  columns: Record<string, unknown>;
  rowPersons: boolean;
  rowRefs: boolean;
  canonical: string;
}

/** Whether a list is exactly the marker, and the marker appears nowhere else in the canonical text. */
function usesMarker(list: string[], marker: string, canonical: string, name: string): boolean {
  const used = list.includes(marker);
  if (canonical.split(marker).length - 1 !== (used ? 1 : 0) || (used && list.length !== 1)) {
    throw new Error(`recorded read: entry ${name} may use a row marker only as the whole list`);
  }
  return used;
}

function template(name: string, input: RecordedRead['entries'][string], now: Date): EntryTemplate {
  const facts = auditFacts(input, now);
  const canonical = canonicalJson(facts);
  const rowPersons = usesMarker(facts.personIds, ROW_PERSONS, canonical, name);
  const rowRefs = usesMarker(facts.entityRefs, ROW_REFS, canonical, name);
  const row = factsRow({ seq: 0, chain: 0, chainSeq: 0 }, '', '', facts);
  return { columns: Object.fromEntries(FACT_COLUMNS.map(([c]) => [c, row[c]])), rowPersons, rowRefs, canonical };
}

/** The expression of one fact column, from the chosen template `f.v` and the rows' persons and references. */
function columnExpression(column: string, type: string): string {
  const stored = `array(select jsonb_array_elements_text(f.v->'columns'->'${column}'))`;
  if (column === 'person_ids') return `case when (f.v->>'rowPersons')::boolean then f.persons else ${stored} end`;
  if (column === 'entity_refs') return `case when (f.v->>'rowRefs')::boolean then f.refs else ${stored} end`;
  if (type === 'text[]') return stored;
  return `(f.v->'columns'->>'${column}')::${type}`;
}

/** A text array as the members of a JSON array, written as `canonicalJson` writes strings. */
const jsonMembers = (list: string) => `(select coalesce(string_agg(to_json(m)::text, ',' order by n), '') from unnest(${list}) with ordinality as u(m, n))`;

const CANONICAL = `replace(replace(f.v->>'canonical', '"' || f.persons_marker || '"', ${jsonMembers('f.persons')}), '"' || f.refs_marker || '"', ${jsonMembers('f.refs')})`;

/**
 * `AuditSink.readStatement` of the hash-chained log. Every possible entry is built and canonicalised here, before the
 * statement; the statement reads the rows once (materialised), picks the entry, puts the rows' persons (each once, in
 * order of first appearance, as `auditFacts` does) and references into it and appends it with `appendCtes`, so the log
 * holds exactly what `appendAudit` would have written for the same access.
 */
export function recordedReadStatement(read: RecordedRead, now: Date): Sql {
  const templates = Object.fromEntries(Object.entries(read.entries).map(([name, input]) => [name, template(name, input, now)]));
  const facts = FACT_COLUMNS.map(([column, type]) => columnExpression(column, type));
  return sql`with x as materialized (${read.read}),
    a as (select ${read.choose} as entry,
        array_agg(x.person_id order by x.ord) filter (where x.person_id is not null) as persons,
        array_agg(x.resource_type || '/' || x.id order by x.ord) filter (where x.id is not null) as refs
      from x),
    f as (select ${JSON.stringify(templates)}::jsonb -> a.entry as v,
        array(select p from unnest(a.persons) with ordinality as u(p, n) group by p order by min(n)) as persons,
        coalesce(a.refs, '{}'::text[]) as refs, ${ROW_PERSONS}::text as persons_marker, ${ROW_REFS}::text as refs_marker
      from a),
    ${raw(appendCtes(facts, CANONICAL, 'f,'))}
    select x.*, exists (select 1 from upd) as audited from (select) as d left join x on true order by x.ord`;
}
