import type { RecordedRead } from '../access/audit-sink.ts';
import type { Sql } from '../store/sql.ts';
import { raw, sql } from '../store/sql.ts';
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
  recorded: 'recorded', action: 'action', subtype: 'subtype', outcome: 'outcome', purpose: 'purpose',
  agent_user_id: 'agentUserId', agent_name: 'agentName', agent_role: 'agentRole', agent_org: 'agentOrg',
  agent_client: 'agentClient', source_ip: 'sourceIp', person_ids: 'personIds', entity_refs: 'entityRefs',
  relationship: 'relationship', break_glass: 'breakGlass', query: 'query', detail: 'detail',
};

/** Whether a list is exactly the marker, and the marker appears nowhere else in the canonical text. */
function usesMarker(list: string[], marker: string, canonical: string, name: string): void {
  const used = list.includes(marker);
  if (canonical.split(marker).length - 1 !== (used ? 1 : 0) || (used && list.length !== 1)) {
    throw new Error(`recorded read: entry ${name} may use a row marker only as the whole list`);
  }
}

function canonicalTemplate(name: string, input: RecordedRead['entries'][string]): string {
  const facts = auditFacts(input, new Date(0));
  const canonical = canonicalJson(facts);
  usesMarker(facts.personIds, ROW_PERSONS, canonical, name);
  usesMarker(facts.entityRefs, ROW_REFS, canonical, name);
  return canonical;
}

// Built once per entries object: callers keep the entries of a caller, action and query (see `GateScope`), and
// canonicalising nine entries per request was a sixth of a read's CPU.
const TEMPLATES = new WeakMap<RecordedRead['entries'], string>();

function templatesOf(entries: RecordedRead['entries']): string {
  let templates = TEMPLATES.get(entries);
  if (!templates) {
    templates = JSON.stringify(Object.fromEntries(Object.entries(entries).map(([name, input]) => [name, canonicalTemplate(name, input)])));
    TEMPLATES.set(entries, templates);
  }
  return templates;
}

/** The expression of one fact column, read from the entry's canonical facts `g.c`: what is stored is what is hashed. */
function columnExpression(column: keyof AuditRow, type: string): string {
  const fact = FACT_OF[column];
  if (!fact) throw new Error(`recorded read: no fact for column ${column}`);
  if (type === 'text[]') return `array(select jsonb_array_elements_text(g.c->'${fact}'))`;
  return `(g.c->>'${fact}')::${type}`;
}

/** A text array as the members of a JSON array, written as `canonicalJson` writes strings. */
const jsonMembers = (list: string) => `(select coalesce(string_agg(to_json(m)::text, ',' order by n), '') from unnest(${list}) with ordinality as u(m, n))`;

/**
 * `AuditSink.readStatement` of the hash-chained log. Every possible entry is canonicalised here, before the statement
 * (once per entries object); the statement reads the rows once (materialised), picks the entry, puts the access's
 * time, the rows' persons (each once, in order of first appearance, as `auditFacts` does) and references into its
 * canonical text, stores the columns parsed from that text and appends it with `appendCtes`: the log holds exactly what
 * `appendAudit` would have written for the same access.
 */
export function recordedReadStatement(read: RecordedRead, now: Date): Sql {
  const facts = FACT_COLUMNS.map(([column, type]) => columnExpression(column, type));
  return sql`with x as materialized (${read.read}),
    a as (select ${read.choose} as entry,
        array_agg(x.person_id order by x.ord) filter (where x.person_id is not null) as persons,
        array_agg(x.resource_type || '/' || x.id order by x.ord) filter (where x.id is not null) as refs
      from x),
    f as materialized (select ${templatesOf(read.entries)}::jsonb ->> a.entry as template,
        array(select p from unnest(a.persons) with ordinality as u(p, n) group by p order by min(n)) as persons,
        coalesce(a.refs, '{}'::text[]) as refs
      from a),
    g as materialized (select t.canonical, t.canonical::jsonb as c from f, lateral (select
        replace(replace(replace(f.template, ${TEMPLATE_RECORDED}::text, '"recorded":' || to_json(${now.toISOString()}::text)::text),
          '"' || ${ROW_PERSONS}::text || '"', ${raw(jsonMembers('f.persons'))}),
          '"' || ${ROW_REFS}::text || '"', ${raw(jsonMembers('f.refs'))}) as canonical) as t),
    ${raw(appendCtes(facts, 'g.canonical', 'g,'))}
    select x.*, exists (select 1 from upd) as audited from (select) as d left join x on true order by x.ord`;
}
