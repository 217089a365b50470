import type { AccessContext, PurposeOfUse } from '../access/context.ts';
import type { ConsentState } from './consent.ts';
import { SENSITIVITY_LABELS, type SensitivityLabel } from './labels/value-set-types.ts';
import { isActiveRelationship, type Relationship } from './relationships.ts';

/** Facts about the requester's standing with one person (the gate loads them once per request). */
export interface PersonFacts {
  relationship: Relationship;
  consent: ConsentState;
  /** End of the requester's break-the-glass for this person, if any. */
  breakGlassUntil?: string;
  /** The MPI person whose record is asked for (compared with ctx.personId for patients). */
  personId?: string;
  /** A system client registered with a query role (SMART backend services) beyond its own data. */
  systemQueryGrant?: boolean;
}

export type GrantReason =
  | 'internal-job' | 'own-record' | 'not-own-record' | 'break-the-glass' | 'treatment-relationship'
  | 'no-relationship' | 'relationship-expired' | 'role-has-no-clinical-access' | 'opted-out'
  | 'own-organization' | 'query-grant';

/**
 * What a requester may see of one person's clinical record — the single source for both the SQL
 * filter (sqlPrivacyFilter) and the per-resource decision (decideAccess), so they cannot disagree.
 */
export interface PersonGrant {
  /** all: every clinical resource not hidden by label; own-organization: only rows the caller's organization wrote; none. */
  clinical: 'all' | 'own-organization' | 'none';
  /** Labels filtered out of `all` (never applied to a system's own rows). */
  hiddenLabels: SensitivityLabel[];
  /** For system clients: rows written by this organization are always visible. */
  ownOrganizationId?: string;
  purposeOfUse: PurposeOfUse;
  /** Access under break-the-glass: audit with ETREAT and flag for privacy-officer review. */
  breakGlass: boolean;
  reason: GrantReason;
  /** For a 403: what the requester lacks. */
  missing?: 'relationship-or-attestation' | 'query-grant';
}

/** The server's own jobs (systemContext): the flag is never set from a token, unlike a client id. */
export function isInternal(ctx: AccessContext): boolean {
  return ctx.internal === true;
}

export function isBreakGlassActive(ctx: AccessContext, breakGlassUntil: string | undefined, now: Date): boolean {
  return ctx.role === 'clinician' && !!breakGlassUntil && Date.parse(breakGlassUntil) > now.getTime();
}

function notShared(consent: ConsentState): SensitivityLabel[] {
  return SENSITIVITY_LABELS.filter((l) => !consent.shared.includes(l));
}

function none(ctx: AccessContext, reason: GrantReason, missing?: PersonGrant['missing']): PersonGrant {
  return { clinical: 'none', hiddenLabels: [...SENSITIVITY_LABELS], purposeOfUse: ctx.purposeOfUse, breakGlass: false, reason, ...(missing ? { missing } : {}) };
}

function clinicalUser(ctx: AccessContext, facts: PersonFacts, now: Date): PersonGrant {
  if (isBreakGlassActive(ctx, facts.breakGlassUntil, now)) {
    return { clinical: 'all', hiddenLabels: [], purposeOfUse: 'ETREAT', breakGlass: true, reason: 'break-the-glass' };
  }
  if (isActiveRelationship(facts.relationship)) {
    return { clinical: 'all', hiddenLabels: notShared(facts.consent), purposeOfUse: 'TREAT', breakGlass: false, reason: 'treatment-relationship' };
  }
  const reason = facts.relationship.kind === 'expired' ? 'relationship-expired' : 'no-relationship';
  return none(ctx, reason, 'relationship-or-attestation');
}

function systemClient(ctx: AccessContext, facts: PersonFacts): PersonGrant {
  const own = ctx.organizationId ? { ownOrganizationId: ctx.organizationId } : {};
  if (facts.systemQueryGrant && isActiveRelationship(facts.relationship)) {
    return { clinical: 'all', hiddenLabels: notShared(facts.consent), ...own, purposeOfUse: 'TREAT', breakGlass: false, reason: 'query-grant' };
  }
  if (!ctx.organizationId) return none(ctx, 'no-relationship', 'query-grant');
  return { clinical: 'own-organization', hiddenLabels: [], ...own, purposeOfUse: ctx.purposeOfUse, breakGlass: false, reason: 'own-organization', missing: 'query-grant' };
}

/** The requester's standing with one person at `now` (privacy rules §1, 2, 4, 5). */
export function personGrant(ctx: AccessContext, facts: PersonFacts, now: Date): PersonGrant {
  if (isInternal(ctx)) {
    return { clinical: 'all', hiddenLabels: [], purposeOfUse: 'HSYSADMIN', breakGlass: false, reason: 'internal-job' };
  }
  // Opt-out first: break-the-glass never brings back data the person asked us to remove.
  if (facts.consent.optedOut) return none(ctx, 'opted-out');
  switch (ctx.role) {
    case 'patient':
      return ctx.personId && ctx.personId === facts.personId
        ? { clinical: 'all', hiddenLabels: [], purposeOfUse: 'PATRQT', breakGlass: false, reason: 'own-record' }
        : none(ctx, 'not-own-record');
    case 'clinician':
    case 'clinical-staff':
      return clinicalUser(ctx, facts, now);
    case 'system':
      return systemClient(ctx, facts);
    default:
      return none(ctx, 'role-has-no-clinical-access');
  }
}

/** Labels that must be filtered out in SQL for this requester and person. */
export function hiddenLabels(ctx: AccessContext, facts: PersonFacts, now: Date): SensitivityLabel[] {
  return personGrant(ctx, facts, now).hiddenLabels;
}

/** Whether any clinical data of the person may be shown (for systems: at least their own rows). */
export function canSeeClinical(ctx: AccessContext, facts: PersonFacts, now: Date): boolean {
  return personGrant(ctx, facts, now).clinical !== 'none';
}
