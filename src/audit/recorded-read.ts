import type { RecordedRead } from '../access/audit-sink.ts';
import type { Sql } from '../store/sql.ts';
import { raw, sql } from '../store/sql.ts';
import { canonicalJson } from './canonical.ts';
import { appendCtes, FACT_COLUMNS } from './chain.ts';
import { factsRow } from './entry.ts';
import { auditFacts } from './events.ts';
import { ROW_PERSON } from './types.ts';

/** One possible entry as the statement receives it: the stored columns and the canonical text its hash covers. */
interface EntryTemplate {
  columns: Record<string, unknown>;
  rowPerson: boolean;
  canonical: string;
}

function template(name: string, input: RecordedRead['entries'][string], now: Date): EntryTemplate {
  const facts = auditFacts(input, now);
  const canonical = canonicalJson(facts);
  const rowPerson = facts.personIds.includes(ROW_PERSON);
  const slots = canonical.split(ROW_PERSON).length - 1;
  if (slots !== (rowPerson ? 1 : 0) || (rowPerson && facts.personIds.length !== 1)) {
    throw new Error(`recorded read: entry ${name} must name the row's person once, as its only person`);
  }
  const row = factsRow({ seq: 0, chain: 0, chainSeq: 0 }, '', '', facts);
  return { columns: Object.fromEntries(FACT_COLUMNS.map(([c]) => [c, row[c]])), rowPerson, canonical };
}

/** The expression of one fact column, read from the chosen template `f.v` (and the row's person `f.person_id`). */
function columnExpression(column: string, type: string): string {
  if (column === 'person_ids') {
    return `case when (f.v->>'rowPerson')::boolean then array[f.person_id] else array(select jsonb_array_elements_text(f.v->'columns'->'person_ids')) end`;
  }
  if (type === 'text[]') return `array(select jsonb_array_elements_text(f.v->'columns'->'${column}'))`;
  return `(f.v->'columns'->>'${column}')::${type}`;
}

// The row's person goes into the canonical text JSON-escaped, as `canonicalJson` would write it.
const CANONICAL = `replace(f.v->>'canonical', f.marker, coalesce(substr(to_json(f.person_id)::text, 2, length(to_json(f.person_id)::text) - 2), ''))`;

/**
 * `AuditSink.readStatement` of the hash-chained log: every possible entry is built and canonicalised here, before
 * the statement; the statement reads the row, picks the entry, puts the row's person into it and appends it with
 * `appendCtes`, so the log holds exactly what `appendAudit` would have written for the same access.
 */
export function recordedReadStatement(read: RecordedRead, now: Date): Sql {
  const templates = Object.fromEntries(Object.entries(read.entries).map(([name, input]) => [name, template(name, input, now)]));
  const facts = FACT_COLUMNS.map(([column, type]) => columnExpression(column, type));
  return sql`with x as (${read.read}),
    one as (select x.*, ${read.choose} as entry from (select) as d left join x on true),
    f as (select one.person_id, ${JSON.stringify(templates)}::jsonb -> one.entry as v, ${ROW_PERSON}::text as marker from one),
    ${raw(appendCtes(facts, CANONICAL, 'f,'))}
    select one.*, exists (select 1 from upd) as audited from one`;
}
