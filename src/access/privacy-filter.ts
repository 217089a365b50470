import { NON_CLINICAL_TYPES } from '../privacy/intake.ts';
import { UNLABELLED_TYPES } from '../privacy/labels/propagate.ts';
import type { Sql } from '../store/sql.ts';
import { join, raw, sql } from '../store/sql.ts';
import type { AccessContext } from './context.ts';
import { hasQueryRole } from './scopes.ts';

/** Resource types that only carry who a person is; visible for picking the right person without a care relationship. */
export const DEMOGRAPHIC_TYPES = ['Patient', 'Person'];

export interface FilterSettings {
  now: Date;
  careRelationshipMonths: number;
}

/**
 * The caller's standing with one person, as SQL expressions: a care relationship of the caller's organization
 * (`enc`), the user's attestation (`att`), the user's active break-the-glass (`btg`), the sensitivity categories
 * the person shares (`shared`, null when none), and whether the person opted out (`out`).
 */
interface Standing {
  enc: Sql;
  att: Sql;
  btg: Sql;
  shared: Sql;
  out: Sql;
}

function monthsBefore(now: Date, months: number): string {
  const d = new Date(now);
  d.setUTCMonth(d.getUTCMonth() - months);
  return d.toISOString();
}

/** The standing with `person` (an SQL expression), looked up in the fact tables. */
function standingOf(person: Sql, ctx: AccessContext, s: FilterSettings): Standing {
  const now = s.now.toISOString();
  // Keyed by the person (their source records, then their relationship with the organization), so the cost per
  // person stays constant however many patients the organization has.
  return {
    enc: sql`exists (select 1 from mpi_links l join care_relationships c on c.patient_id = l.patient_id
      where l.person_id = ${person} and c.organization_id = ${ctx.organizationId ?? ''}
      and (c.active or c.last_date >= ${monthsBefore(s.now, s.careRelationshipMonths)}))`,
    att: sql`exists (select 1 from attestations t where t.user_id = ${ctx.userId ?? ''} and t.person_id = ${person} and t.expires_at > ${now})`,
    btg: sql`exists (select 1 from break_glass b where b.user_id = ${ctx.userId ?? ''} and b.person_id = ${person} and b.expires_at > ${now})`,
    shared: sql`(select pp.shared_labels from person_privacy pp where pp.person_id = ${person})`,
    out: optedOut(person),
  };
}

const optedOut = (person: Sql) => sql`exists (select 1 from person_privacy pp where pp.person_id = ${person} and pp.opted_out)`;

/** The standing as `standingColumns` names it, read from the columns of alias `f` (all null for a row without a person). */
function standingIn(f: string): Standing {
  const c = (name: string) => raw(`coalesce(${f}.${name}, false)`);
  return { enc: c('fact_enc'), att: c('fact_att'), btg: c('fact_btg'), shared: raw(`${f}.fact_shared`), out: c('fact_out') };
}

/** `standingOf(person)` as the four named columns `standingIn` reads. */
export function standingColumns(person: Sql, ctx: AccessContext, s: FilterSettings): Sql {
  const st = standingOf(person, ctx, s);
  return sql`${st.enc} as fact_enc, ${st.att} as fact_att, ${st.btg} as fact_btg, ${st.shared} as fact_shared, ${st.out} as fact_out`;
}

/**
 * What everyone may read: rows about no one in particular (the directory and knowledge artifacts) that carry no
 * label. Any other row without a person (a Binary without a security context, an Observation of an unknown Patient)
 * may still be health information: only its sender and internal jobs see it, since no care relationship, share or
 * break-the-glass can be checked against a person who is not known.
 */
export const SHARED_TYPES: readonly string[] = [...UNLABELLED_TYPES];
const typeList = (types: Iterable<string>) => raw([...types].map((t) => `'${t}'`).join(', '));
const shared = (a: Sql) =>
  sql`(${a}.person_id is null and ${a}.resource_type in (${typeList(SHARED_TYPES)}) and cardinality(${a}.security) = 0)`;
const demographic = (a: Sql) => sql`${a}.resource_type in ('Patient', 'Person')`;
/** A row kept from an opted-out person only if it is not clinical (§2: whatever the purge missed is never served). */
const kept = (a: Sql, out: Sql) => sql`(not ${out} or ${a}.resource_type in (${typeList(NON_CLINICAL_TYPES)}))`;
/** What an organization's system sees without the query role: its own records and the shared directory. */
const ownRecords = (a: Sql, organizationId: string) => sql`(${shared(a)} or ${a}.source_org = ${organizationId})`;

/**
 * In the caller's care (relationship, attestation or break-the-glass), and the row's sensitivity labels visible: none,
 * all shared by the person, or break-the-glass active.
 */
function inCare(a: Sql, st: Standing): Sql {
  return sql`((${st.enc} or ${st.att} or ${st.btg}) and ${kept(a, st.out)}
    and (cardinality(${a}.security) = 0 or ${a}.security <@ coalesce(${st.shared}, '{}'::text[]) or ${st.btg}))`;
}

/** Which roles decide by the row's person's standing (the others by the row alone). */
function usesStanding(ctx: AccessContext): boolean {
  return !ctx.internal && (ctx.role === 'clinician' || ctx.role === 'clinical-staff' || (ctx.role === 'system' && hasQueryRole(ctx)));
}

/**
 * The decision for the row at alias `a` whose person's standing is `st`, by role (privacy-rules §1, §4, §5).
 * `pickable`: whether demographics of persons outside the caller's care are visible (to pick the right person in a
 * search); a bulk export never releases them (§7: identifiers are not exported for persons outside one's care).
 */
function decide(a: Sql, ctx: AccessContext, standing: () => Standing, pickable = true): Sql {
  if (ctx.internal) return sql`true`;
  const pick = pickable ? sql` or ${demographic(a)}` : sql``;
  switch (ctx.role) {
    case 'clinician':
    case 'clinical-staff':
      return sql`(${shared(a)}${pick} or ${inCare(a, standing())})`;
    case 'patient':
      return sql`(${shared(a)} or (${a}.person_id = ${ctx.personId ?? ''} and ${kept(a, optedOut(sql`${ctx.personId ?? ''}`))}))`;
    case 'system': {
      const own = sql`${a}.source_org = ${ctx.organizationId ?? ''}`;
      if (!hasQueryRole(ctx)) return sql`(${shared(a)} or (${own} and ${kept(a, optedOut(sql`${a}.person_id`))}))`;
      const st = standing();
      return sql`(${shared(a)} or (${own} and ${kept(a, st.out)})${pick} or ${inCare(a, st)})`;
    }
    case 'registrar':
    case 'privacy-officer':
      return sql`(${shared(a)} or ${demographic(a)} or ${a}.resource_type = 'Consent')`;
    case 'admin':
      return sql`(${shared(a)} or ${demographic(a)})`;
  }
}

const checkAlias = (alias: string) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(alias)) throw new Error('bad alias');
  return raw(alias);
};

/**
 * The privacy condition for a `resources` alias. Pushed into every SQL statement that returns resources so that
 * paging and totals never count what the caller may not see.
 */
export function privacyFilter(ctx: AccessContext, s: FilterSettings): (alias: string) => Sql {
  return (alias: string) => {
    const a = checkAlias(alias);
    return decide(a, ctx, () => standingOf(sql`${a}.person_id`, ctx, s));
  };
}

/**
 * The privacy condition of a bulk export: `privacyFilter` without the demographics of persons outside the caller's
 * care, which a search shows to pick the right person but an export must not hand over in bulk.
 */
export function exportFilter(ctx: AccessContext, s: FilterSettings): (alias: string) => Sql {
  return (alias: string) => {
    const a = checkAlias(alias);
    return decide(a, ctx, () => standingOf(sql`${a}.person_id`, ctx, s), false);
  };
}

/**
 * The condition a submitting system's own records meet (shared directory entries included), whatever else its scopes
 * let it read: what ingestion's conditional keys may match, so a sender never finds, and then updates or is refused
 * on, another source's record of the same patient. Undefined for a caller that is not an organization's system.
 */
export function ownRecordsFilter(ctx: AccessContext): ((alias: string) => Sql) | undefined {
  const organizationId = ctx.organizationId;
  if (ctx.role !== 'system' || !organizationId) return undefined;
  return (alias: string) => ownRecords(checkAlias(alias), organizationId);
}

/**
 * The same condition in two parts, for statements over many rows of few persons: `columns` works out the standing
 * with one person, `condition` decides a row from its person's standing in alias `f`. A search then looks the
 * standing up once per person among its matches instead of once per row (see `compileSearch`). Undefined for callers
 * whose decision does not depend on the person's standing.
 */
export interface PerPersonFilter {
  columns(person: Sql): Sql;
  /** The columns `columns` gives, as alias `f` of a statement holds them: `f.fact_enc, …` (to carry them out). */
  carried(f: string): Sql;
  condition(alias: string, f: string): Sql;
  /**
   * The condition for rows that all belong to one person (never person-less rows) whose standing is already known,
   * with what the standing settles left out (`decideKnown`).
   */
  known(alias: string, standing: KnownStanding): Sql;
}

/** The standing with one person as values (see `Standing`). */
export interface KnownStanding {
  enc: boolean;
  att: boolean;
  btg: boolean;
  shared: readonly string[];
  out: boolean;
}

/** A condition either known when the statement is built or left for PostgreSQL to decide per row. */
type Cond = Sql | boolean;

function anyOf(...cs: Cond[]): Cond {
  if (cs.includes(true)) return true;
  const open = cs.filter((c): c is Sql => c !== false);
  return open.length === 0 ? false : open.length === 1 ? open[0] : sql`(${join(open, ' or ')})`;
}

function allOf(...cs: Cond[]): Cond {
  if (cs.includes(false)) return false;
  const open = cs.filter((c): c is Sql => c !== true);
  return open.length === 0 ? true : open.length === 1 ? open[0] : sql`(${join(open, ' and ')})`;
}

const asSql = (c: Cond): Sql => (c === true ? sql`true` : c === false ? sql`false` : c);

/**
 * `decide` for rows of one known person (never person-less) whose standing is known, folded here: what the standing
 * settles is left out of the statement, so each of a record's thousands of rows costs one or two checks of its own
 * (as constants, PostgreSQL still evaluated every branch of the condition on every row). The property test in
 * `per-person-filter.test.ts` holds it to the per-row filter.
 */
function decideKnown(a: Sql, ctx: AccessContext, k: KnownStanding): Cond {
  const kept: Cond = k.out ? sql`${a}.resource_type in (${typeList(NON_CLINICAL_TYPES)})` : true;
  const labels: Cond = k.btg || anyOf(sql`cardinality(${a}.security) = 0`, k.shared.length > 0 && sql`${a}.security <@ ${[...k.shared]}::text[]`);
  const inCare = (k.enc || k.att || k.btg) && allOf(kept, labels);
  const own = ctx.role === 'system' && allOf(sql`${a}.source_org = ${ctx.organizationId ?? ''}`, kept);
  return anyOf(own, demographic(a), inCare);
}

const STANDING_COLUMNS = ['fact_enc', 'fact_att', 'fact_btg', 'fact_shared', 'fact_out'];

export function perPersonFilter(ctx: AccessContext, s: FilterSettings): PerPersonFilter | undefined {
  if (!usesStanding(ctx)) return undefined;
  return {
    columns: (person) => standingColumns(person, ctx, s),
    carried: (f) => {
      checkAlias(f);
      return raw(STANDING_COLUMNS.map((n) => `${f}.${n}`).join(', '));
    },
    condition: (alias, f) => {
      checkAlias(f);
      return decide(checkAlias(alias), ctx, () => standingIn(f));
    },
    known: (alias, standing) => asSql(decideKnown(checkAlias(alias), ctx, standing)),
  };
}

