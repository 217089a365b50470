import type { Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import type { Sql } from '../store/sql.ts';
import { sql } from '../store/sql.ts';
import type { AccessContext } from './context.ts';
import type { FilterSettings } from './privacy-filter.ts';

/** What the gate knows about the caller's standing with one person, for the check before serialisation. */
export interface PersonFacts {
  personId: string;
  relationship: 'encounter' | 'attestation' | 'break-glass' | 'none';
  breakGlass: boolean;
  sharedLabels: string[];
}

/** The fact columns as a statement returns them (see `factColumns`). */
export interface FactColumns {
  fact_enc: boolean | null;
  fact_att: boolean | null;
  fact_btg: boolean | null;
  fact_shared: string[] | null;
}

/**
 * The caller's standing with the person `person` (an SQL expression) as four columns, so a statement that reads
 * resources can bring the facts for their persons in the same round trip.
 */
export function factColumns(person: Sql, ctx: AccessContext, s: FilterSettings): Sql {
  const now = s.now.toISOString();
  const cutoff = new Date(s.now);
  cutoff.setUTCMonth(cutoff.getUTCMonth() - s.careRelationshipMonths);
  return sql`exists (select 1 from mpi_links l join care_relationships c on c.patient_id = l.patient_id
              where l.person_id = ${person} and c.organization_id = ${ctx.organizationId ?? ''}
              and (c.active or c.last_date >= ${cutoff.toISOString()})) as fact_enc,
      exists (select 1 from attestations t where t.user_id = ${ctx.userId ?? ''} and t.person_id = ${person} and t.expires_at > ${now}) as fact_att,
      exists (select 1 from break_glass b where b.user_id = ${ctx.userId ?? ''} and b.person_id = ${person} and b.expires_at > ${now}) as fact_btg,
      (select pp.shared_labels from person_privacy pp where pp.person_id = ${person}) as fact_shared`;
}

export function factsFromColumns(personId: string, c: FactColumns): PersonFacts {
  const relationship = c.fact_enc ? 'encounter' : c.fact_att ? 'attestation' : c.fact_btg ? 'break-glass' : 'none';
  return { personId, relationship, breakGlass: c.fact_btg === true, sharedLabels: c.fact_shared ?? [] };
}

export async function loadPersonFacts(
  tx: Queryable,
  ctx: AccessContext,
  personIds: string[],
  s: FilterSettings,
): Promise<Map<string, PersonFacts>> {
  return (await loadDeliveryFacts(tx, ctx, personIds, [], s)).facts;
}

/**
 * Everything the outgoing check needs for a set of rows in one round trip: the caller's standing with each person,
 * and the names of the organizations that sent the rows.
 */
export async function loadDeliveryFacts(
  tx: Queryable,
  ctx: AccessContext,
  personIds: string[],
  organizationIds: string[],
  s: FilterSettings,
): Promise<{ facts: Map<string, PersonFacts>; orgNames: Map<string, string> }> {
  const facts = new Map<string, PersonFacts>();
  const orgNames = new Map<string, string>();
  if (personIds.length === 0 && organizationIds.length === 0) return { facts, orgNames };
  const rows = await run<FactColumns & { person_id: string | null; org_id: string | null; org_name: string | null }>(
    tx,
    sql`select p.person_id, null::text as org_id, null::text as org_name, ${factColumns(sql`p.person_id`, ctx, s)}
      from unnest(${personIds}::text[]) as p(person_id)
      union all
      select null, o.id, o.content->>'name', null, null, null, null
      from resources o where o.resource_type = 'Organization' and o.id = any(${organizationIds}::text[])`,
  );
  for (const r of rows) {
    if (r.person_id) facts.set(r.person_id, factsFromColumns(r.person_id, r));
    else if (r.org_id) orgNames.set(r.org_id, r.org_name ?? r.org_id);
  }
  return { facts, orgNames };
}
