import type { Sql } from '../store/sql.ts';
import { raw, sql } from '../store/sql.ts';
import type { AccessContext } from './context.ts';
import { hasQueryRole } from './scopes.ts';

/** Resource types that only carry who a person is; visible for picking the right person without a care relationship. */
export const DEMOGRAPHIC_TYPES = ['Patient', 'Person'];

export interface FilterSettings {
  now: Date;
  careRelationshipMonths: number;
}

function monthsBefore(now: Date, months: number): string {
  const d = new Date(now);
  d.setUTCMonth(d.getUTCMonth() - months);
  return d.toISOString();
}

/** The person is in the caller's care: an organization relationship, the user's attestation, or break-the-glass. */
function relationship(a: Sql, ctx: AccessContext, s: FilterSettings): Sql {
  const now = s.now.toISOString();
  const cutoff = monthsBefore(s.now, s.careRelationshipMonths);
  // Keyed by the row's person (its source records, then their relationship with the organization), so the cost per
  // row stays constant however many patients the organization has.
  return sql`(exists (select 1 from mpi_links l join care_relationships c on c.patient_id = l.patient_id
      where l.person_id = ${a}.person_id and c.organization_id = ${ctx.organizationId ?? ''} and (c.active or c.last_date >= ${cutoff}))
    or exists (select 1 from attestations t where t.user_id = ${ctx.userId ?? ''} and t.person_id = ${a}.person_id and t.expires_at > ${now})
    or ${breakGlass(a, ctx, s)})`;
}

function breakGlass(a: Sql, ctx: AccessContext, s: FilterSettings): Sql {
  return sql`exists (select 1 from break_glass b where b.user_id = ${ctx.userId ?? ''} and b.person_id = ${a}.person_id and b.expires_at > ${s.now.toISOString()})`;
}

/** Sensitive labels are hidden unless the person shares that category, or break-the-glass is active. */
function labelsVisible(a: Sql, ctx: AccessContext, s: FilterSettings): Sql {
  return sql`(cardinality(${a}.security) = 0
    or ${a}.security <@ coalesce((select p.shared_labels from person_privacy p where p.person_id = ${a}.person_id), '{}'::text[])
    or ${breakGlass(a, ctx, s)})`;
}

const shared = (a: Sql) => sql`(${a}.person_id is null and ${a}.resource_type <> 'Consent')`;
const demographic = (a: Sql) => sql`${a}.resource_type in ('Patient', 'Person')`;

/**
 * The privacy condition for a `resources` alias, by role (privacy-rules §1, §4, §5). Pushed into every SQL
 * statement that returns resources so that paging and totals never count what the caller may not see.
 */
export function privacyFilter(ctx: AccessContext, s: FilterSettings): (alias: string) => Sql {
  return (alias: string) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(alias)) throw new Error('bad alias');
    const a = raw(alias);
    if (ctx.internal) return sql`true`;
    switch (ctx.role) {
      case 'clinician':
      case 'clinical-staff':
        return sql`(${shared(a)} or ${demographic(a)} or (${relationship(a, ctx, s)} and ${labelsVisible(a, ctx, s)}))`;
      case 'patient':
        return sql`(${shared(a)} or ${a}.person_id = ${ctx.personId ?? ''})`;
      case 'system':
        return hasQueryRole(ctx)
          ? sql`(${shared(a)} or ${a}.source_org = ${ctx.organizationId ?? ''} or ${demographic(a)} or (${relationship(a, ctx, s)} and ${labelsVisible(a, ctx, s)}))`
          : sql`(${shared(a)} or ${a}.source_org = ${ctx.organizationId ?? ''})`;
      case 'registrar':
      case 'privacy-officer':
        return sql`(${shared(a)} or ${demographic(a)} or ${a}.resource_type = 'Consent')`;
      case 'admin':
        return sql`(${shared(a)} or ${demographic(a)})`;
    }
  };
}
