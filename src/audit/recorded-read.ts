import type { RecordedRead } from '../access/audit-sink.ts';
import type { Sql } from '../store/sql.ts';
import { arrayLiteral, join, raw, sql } from '../store/sql.ts';
import { canonicalJson } from './canonical.ts';
import { appendCtes, FACT_COLUMNS } from './chain.ts';
import type { AuditRow } from './entry.ts';
import { auditFacts } from './events.ts';
import type { AuditFacts } from './types.ts';
import { ROW_PERSONS, ROW_REFS } from './types.ts';

// Templates are canonicalised once with this time; the statement puts the access's time in its place.
const TEMPLATE_RECORDED = `"recorded":${JSON.stringify(new Date(0).toISOString())}`;

/** The fact each stored column holds (`factsRow` in reverse). */
const FACT_OF: Partial<Record<keyof AuditRow, keyof AuditFacts>> = {
  action: 'action', subtype: 'subtype', outcome: 'outcome', purpose: 'purpose',
  agent_user_id: 'agentUserId', agent_name: 'agentName', agent_role: 'agentRole', agent_org: 'agentOrg',
  agent_client: 'agentClient', source_ip: 'sourceIp', relationship: 'relationship', break_glass: 'breakGlass', query: 'query', detail: 'detail',
};

/** Whether a list is exactly the marker, and the marker appears nowhere else in the canonical text. */
function usesMarker(list: string[], marker: string, canonical: string, name: string): boolean {
  const used = list.includes(marker);
  if (canonical.split(marker).length - 1 !== (used ? 1 : 0) || (used && list.length !== 1)) {
    throw new Error(`recorded read: entry ${name} may use a row marker only as the whole list`);
  }
  return used;
}

/**
 * The entries a statement may choose from, prepared once: their names and canonical texts, and the expression of each
 * fact column but `recorded` over the chosen entry's position `f.k`. Arrays travel as ready-made literals
 * (`arrayLiteral`): the driver would otherwise serialise nine canonical texts on every read.
 */
interface EntryTable {
  names: string;
  templates: string;
  columns: Map<keyof AuditRow, Sql>;
}

/** The rows' own list where the chosen entry takes it, else none (an entry names the rows' persons or no one). */
function listOf(fixed: Array<string[] | null>, rows: string): Sql {
  if (fixed.some((l) => l !== null && l.length > 0)) throw new Error('recorded read: an entry names persons or resources of its own');
  return sql`case when (${arrayLiteral(fixed.map((l) => l === null))}::boolean[])[f.k] then ${raw(rows)} else '{}'::text[] end`;
}

/** The chosen entry's value of a column: a single parameter when every entry has the same (the agent, the query…). */
function chosen(values: Array<string | boolean | null>, type: string): Sql {
  if (values.every((v) => v === values[0])) return sql`${values[0]}::${raw(type)}`;
  return sql`(${arrayLiteral(values)}::${raw(`${type}[]`)})[f.k]`;
}

function entryTable(entries: RecordedRead['entries']): EntryTable {
  const names: string[] = [];
  const templates: string[] = [];
  const persons: Array<string[] | null> = [];
  const refs: Array<string[] | null> = [];
  const values = new Map<keyof AuditRow, Array<string | boolean | null>>();
  for (const [name, input] of Object.entries(entries)) {
    const facts = auditFacts(input, new Date(0));
    const canonical = canonicalJson(facts);
    names.push(name);
    templates.push(canonical);
    persons.push(usesMarker(facts.personIds, ROW_PERSONS, canonical, name) ? null : facts.personIds);
    refs.push(usesMarker(facts.entityRefs, ROW_REFS, canonical, name) ? null : facts.entityRefs);
    for (const [column, fact] of Object.entries(FACT_OF) as Array<[keyof AuditRow, keyof AuditFacts]>) {
      values.set(column, [...(values.get(column) ?? []), (facts[fact] ?? null) as string | boolean | null]);
    }
  }
  const columns = new Map<keyof AuditRow, Sql>([['person_ids', listOf(persons, 'f.persons')], ['entity_refs', listOf(refs, 'f.refs')]]);
  for (const [column, type] of FACT_COLUMNS) {
    const v = values.get(column);
    if (v) columns.set(column, chosen(v, type));
  }
  return { names: arrayLiteral(names), templates: arrayLiteral(templates), columns };
}

// Built once per entries object: callers keep the entries of a caller, action and query (see `GateScope`), and
// canonicalising nine entries per request was a sixth of a read's CPU.
const TABLES = new WeakMap<RecordedRead['entries'], EntryTable>();

function tableOf(entries: RecordedRead['entries']): EntryTable {
  let table = TABLES.get(entries);
  if (!table) {
    table = entryTable(entries);
    TABLES.set(entries, table);
  }
  return table;
}

/** The expression of each fact column, aliased by its name (`recorded` is the access's time). */
function factExpressions(table: EntryTable, now: Date): Sql[] {
  return FACT_COLUMNS.map(([column]) => {
    const value = column === 'recorded' ? sql`${now.toISOString()}::timestamptz` : table.columns.get(column);
    if (!value) throw new Error(`recorded read: no value for column ${column}`);
    return sql`${value} as ${raw(column)}`;
  });
}

/**
 * `AuditSink.readStatement` of the hash-chained log. Every possible entry is canonicalised here, before the statement
 * (once per entries object); the statement reads the rows once (materialised), picks the entry, stores its columns
 * (the rows' persons, each once in order of first appearance as `auditFacts` does, and references), puts the
 * access's time, persons and references into its canonical text (PostgreSQL's `array_to_json` writes a text array
 * as `canonicalJson` does) and appends it with `appendCtes`: the log holds exactly what `appendAudit` would have
 * written for the same access. No JSON is parsed in SQL (it was a fifth of the statement's database time).
 */
export function recordedReadStatement(read: RecordedRead, now: Date): Sql {
  const table = tableOf(read.entries);
  const facts = join(factExpressions(table, now), ', ');
  return sql`with x as materialized (${read.read}),
    a as (select ${read.choose} as entry,
        array_agg(x.person_id order by x.ord) filter (where x.person_id is not null) as persons,
        array_agg(x.resource_type || '/' || x.id order by x.ord) filter (where x.id is not null) as refs
      from x),
    f as materialized (select array_position(${table.names}::text[], a.entry) as k,
        array(select p from unnest(a.persons) with ordinality as u(p, n) group by p order by min(n)) as persons,
        coalesce(a.refs, '{}'::text[]) as refs
      from a),
    g as materialized (select ${facts},
        replace(replace(replace((${table.templates}::text[])[f.k], ${TEMPLATE_RECORDED}::text, '"recorded":' || to_json(${now.toISOString()}::text)::text),
          ${JSON.stringify([ROW_PERSONS])}::text, array_to_json(f.persons)::text),
          ${JSON.stringify([ROW_REFS])}::text, array_to_json(f.refs)::text) as canonical
      from f),
    ${raw(appendCtes(FACT_COLUMNS.map(([column]) => `g.${column}`), 'g.canonical', 'g,'))}
    select x.*, exists (select 1 from upd) as audited from (select) as d left join x on true order by x.ord`;
}
