import type { Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
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

export async function loadPersonFacts(
  tx: Queryable,
  ctx: AccessContext,
  personIds: string[],
  s: FilterSettings,
): Promise<Map<string, PersonFacts>> {
  const facts = new Map<string, PersonFacts>();
  if (personIds.length === 0) return facts;
  const now = s.now.toISOString();
  const cutoff = new Date(s.now);
  cutoff.setUTCMonth(cutoff.getUTCMonth() - s.careRelationshipMonths);
  const rows = await run<{ person_id: string; enc: boolean; att: boolean; btg: boolean; shared: string[] | null }>(
    tx,
    sql`select p.person_id,
      exists (select 1 from mpi_links l join care_relationships c on c.patient_id = l.patient_id
              where l.person_id = p.person_id and c.organization_id = ${ctx.organizationId ?? ''}
              and (c.active or c.last_date >= ${cutoff.toISOString()})) as enc,
      exists (select 1 from attestations t where t.user_id = ${ctx.userId ?? ''} and t.person_id = p.person_id and t.expires_at > ${now}) as att,
      exists (select 1 from break_glass b where b.user_id = ${ctx.userId ?? ''} and b.person_id = p.person_id and b.expires_at > ${now}) as btg,
      (select pp.shared_labels from person_privacy pp where pp.person_id = p.person_id) as shared
    from unnest(${personIds}::text[]) as p(person_id)`,
  );
  for (const r of rows) {
    const relationship = r.enc ? 'encounter' : r.att ? 'attestation' : r.btg ? 'break-glass' : 'none';
    facts.set(r.person_id, { personId: r.person_id, relationship, breakGlass: r.btg, sharedLabels: r.shared ?? [] });
  }
  return facts;
}
