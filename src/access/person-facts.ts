import type { Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import type { AccessContext } from './context.ts';
import { standingColumns, type FilterSettings, type KnownStanding } from './privacy-filter.ts';

/** What the gate knows about the caller's standing with one person, for the check before serialisation. */
export interface PersonFacts {
  personId: string;
  relationship: 'encounter' | 'attestation' | 'break-glass' | 'none';
  breakGlass: boolean;
  sharedLabels: string[];
  /** The person opted out: nothing clinical of theirs may be served (privacy-rules §2). */
  optedOut: boolean;
}

/** The fact columns as a statement returns them (see `standingColumns`). */
export interface FactColumns {
  fact_enc: boolean | null;
  fact_att: boolean | null;
  fact_btg: boolean | null;
  fact_shared: string[] | null;
  fact_out: boolean | null;
}

export function factsFromColumns(personId: string, c: FactColumns): PersonFacts {
  const relationship = c.fact_enc ? 'encounter' : c.fact_att ? 'attestation' : c.fact_btg ? 'break-glass' : 'none';
  return { personId, relationship, breakGlass: c.fact_btg === true, sharedLabels: c.fact_shared ?? [], optedOut: c.fact_out === true };
}

/** The facts as the privacy filter's standing (`relationship` names the first of encounter, attestation, break-glass). */
export function knownStanding(f: PersonFacts): KnownStanding {
  return { enc: f.relationship === 'encounter', att: f.relationship === 'attestation', btg: f.breakGlass, shared: f.sharedLabels, out: f.optedOut };
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
    sql`select p.person_id, null::text as org_id, null::text as org_name, ${standingColumns(sql`p.person_id`, ctx, s)}
      from unnest(${personIds}::text[]) as p(person_id)
      union all
      select null, o.id, o.content->>'name', null, null, null, null, null
      from resources o where o.resource_type = 'Organization' and o.id = any(${organizationIds}::text[])`,
  );
  for (const r of rows) {
    if (r.person_id) facts.set(r.person_id, factsFromColumns(r.person_id, r));
    else if (r.org_id) orgNames.set(r.org_id, r.org_name ?? r.org_id);
  }
  return { facts, orgNames };
}
