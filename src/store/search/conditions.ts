import type { Sql } from '../sql.ts';
import { join, raw, sql } from '../sql.ts';
import { normalizeText } from './normalize.ts';
import type { ParamFilter, Prefix, SearchValue } from './types.ts';

/** Escapes LIKE wildcards in user text (PostgreSQL's default escape character is `\`). */
export const likeEscape = (text: string) => text.replace(/[\\%_]/g, '\\$&');

export const or = (parts: Sql[]): Sql => (parts.length === 1 ? parts[0] : sql`(${join(parts, ' or ')})`);

const ts = (v: string) => sql`${v}::timestamptz`;

/** The range `ap` ("approximately") searches: the search range widened by 10% of its distance from now. */
export function approximateRange(v: { lo: string; hi: string }, now: number): { lo: string; hi: string } {
  const [a, b] = [Date.parse(v.lo), Date.parse(v.hi)];
  return { lo: new Date(a - Math.abs(now - a) * 0.1).toISOString(), hi: new Date(b + Math.abs(now - b) * 0.1).toISOString() };
}

/** How a stored range [lo, hi) relates to the search range for each prefix (FHIR R4 §3.1.1.4.2). */
export function dateCondition(lo: Sql, hi: Sql, v: Extract<SearchValue, { kind: 'date' }>, now = Date.now()): Sql {
  const eq = sql`(${lo} >= ${ts(v.lo)} and ${hi} <= ${ts(v.hi)})`;
  const ops: Record<Prefix, () => Sql> = {
    eq: () => eq,
    ne: () => sql`not ${eq}`,
    gt: () => sql`${hi} > ${ts(v.hi)}`,
    lt: () => sql`${lo} < ${ts(v.lo)}`,
    ge: () => sql`${hi} > ${ts(v.lo)}`,
    le: () => sql`${lo} < ${ts(v.hi)}`,
    sa: () => sql`${lo} >= ${ts(v.hi)}`,
    eb: () => sql`${hi} <= ${ts(v.lo)}`,
    ap: () => {
      const w = approximateRange(v, now);
      return sql`(${lo} < ${ts(w.hi)} and ${hi} > ${ts(w.lo)})`;
    },
  };
  return ops[v.prefix]();
}

/** number and quantity comparisons; eq honours the precision of the search value. */
export function numberCondition(x: Sql, v: Extract<SearchValue, { kind: 'number' }>): Sql {
  const n = sql`${v.value}::numeric`;
  const half = sql`${v.half}::numeric`;
  const eq = sql`(${x} >= ${n} - ${half} and ${x} < ${n} + ${half})`;
  const ops: Record<Prefix, () => Sql> = {
    eq: () => eq,
    ne: () => sql`not ${eq}`,
    gt: () => sql`${x} > ${n}`,
    lt: () => sql`${x} < ${n}`,
    ge: () => sql`${x} >= ${n}`,
    le: () => sql`${x} <= ${n}`,
    sa: () => sql`${x} > ${n}`,
    eb: () => sql`${x} < ${n}`,
    ap: () => sql`${x} between least(${n} * 0.9, ${n} * 1.1) and greatest(${n} * 0.9, ${n} * 1.1)`,
  };
  return ops[v.prefix]();
}

function tokenCondition(i: string, v: Extract<SearchValue, { kind: 'token' }>): Sql {
  const c = (col: string) => raw(`${i}.${col}`);
  const parts: Sql[] = [];
  if (v.text !== undefined) parts.push(sql`${c('display')} like ${likeEscape(normalizeText(v.text)) + '%'}`);
  if (v.system !== undefined) parts.push(v.system === '' ? sql`${c('system')} is null` : sql`${c('system')} = ${v.system}`);
  if (v.code !== undefined) parts.push(sql`${c('value')} = ${v.code}`);
  if (v.typeSystem !== undefined) parts.push(sql`${c('type_system')} = ${v.typeSystem} and ${c('type_code')} = ${v.typeCode}`);
  return parts.length ? sql`(${join(parts, ' and ')})` : sql`true`;
}

function stringCondition(i: string, v: Extract<SearchValue, { kind: 'string' }>, modifier?: string): Sql {
  if (modifier === 'exact') return sql`${raw(i)}.raw = ${v.text}`;
  const text = likeEscape(normalizeText(v.text));
  return modifier === 'contains' ? sql`${raw(i)}.value like ${'%' + text + '%'}` : sql`${raw(i)}.value like ${text + '%'}`;
}

/** `targets`: the parameter's target types, which a bare id may be of (FHIR R4 §3.1.1.4.13); empty when any. */
function referenceCondition(i: string, v: Extract<SearchValue, { kind: 'reference' }>, targets: string[]): Sql {
  if (v.url !== undefined) return sql`${raw(i)}.ref = ${v.url}`;
  let type = sql``;
  if (v.type) type = sql` and ${raw(i)}.target_type = ${v.type}`;
  else if (targets.length) type = sql` and ${raw(i)}.target_type = any(${targets}::text[])`;
  return sql`(${raw(i)}.target_id = ${v.id ?? ''}${type})`;
}

function uriCondition(i: string, v: Extract<SearchValue, { kind: 'uri' }>, modifier?: string): Sql {
  if (modifier === 'below') return sql`${raw(i)}.value like ${likeEscape(v.value) + '%'}`;
  if (modifier === 'above') return sql`left(${v.value}, length(${raw(i)}.value)) = ${raw(i)}.value`;
  return sql`${raw(i)}.value = ${v.value}`;
}

/** The condition one value of `f` puts on index alias `i` (an internal alias, never user input). */
export function valueCondition(i: string, v: SearchValue, f: Pick<ParamFilter, 'param' | 'modifier'>): Sql {
  const modifier = f.modifier;
  switch (v.kind) {
    case 'string': return stringCondition(i, v, modifier);
    case 'token': return tokenCondition(i, v);
    case 'date': return dateCondition(raw(`${i}.lo`), raw(`${i}.hi`), v);
    case 'number': {
      const unit = v.code ? sql` and (${raw(i)}.code = ${v.code} or ${raw(i)}.unit = ${v.code})` : sql``;
      const system = v.system ? sql` and ${raw(i)}.system = ${v.system}` : sql``;
      return sql`(${numberCondition(raw(`${i}.value`), v)}${system}${unit})`;
    }
    case 'reference': return referenceCondition(i, v, f.param.targets);
    case 'uri': return uriCondition(i, v, modifier);
    case 'missing': return sql`true`;
  }
}
