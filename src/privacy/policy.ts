import type { AccessContext, PurposeOfUse, Role } from '../access/context.ts';
import type { SensitivityLabel } from './labels/value-set-types.ts';
import { personGrant, type GrantReason, type PersonFacts, type PersonGrant } from './person-grant.ts';

export * from './person-grant.ts';

/** Facts about one resource, on top of the requester's standing with its person. */
export interface ResourceFacts extends PersonFacts {
  /** Decides clinical vs not: every type outside the directory, identities, Consent and AuditEvent is clinical. */
  resourceType: string;
  labels: SensitivityLabel[];
  /** Organization that submitted the resource (system clients may read back their own). */
  sourceOrgId?: string;
  action?: 'read' | 'write';
}

export type DecisionReason =
  | GrantReason | 'directory' | 'demographic-lookup' | 'sensitive-not-shared' | 'other-organization'
  | 'consent-record' | 'audit-record' | 'role-not-permitted';

export interface AccessDecision {
  /** permit: show; deny: 403 with an OperationOutcome naming `missing`; withhold: act as if absent. */
  effect: 'permit' | 'deny' | 'withhold';
  reason: DecisionReason;
  purposeOfUse: PurposeOfUse;
  /** For Patient/Person reads: `demographics` = only name, birth date, sex, city (see demographicView). */
  view?: 'full' | 'demographics';
  breakGlass?: boolean;
  missing?: PersonGrant['missing'];
}

/** The shared directory: not about any person's health. */
export const DIRECTORY_TYPES: ReadonlySet<string> = new Set([
  'Organization', 'Practitioner', 'PractitionerRole', 'Location', 'Endpoint', 'HealthcareService',
]);
const IDENTITY_TYPES = new Set(['Patient', 'Person']);
/** Roles that may find a person by demographics without a relationship (to pick the right person). */
const LOOKUP_ROLES: ReadonlySet<Role> = new Set(['clinician', 'clinical-staff', 'registrar', 'privacy-officer', 'admin']);
/** Roles that manage identities and so see the full demographic record. */
const FULL_IDENTITY_ROLES: ReadonlySet<Role> = new Set(['registrar', 'privacy-officer', 'admin']);

function ownPerson(ctx: AccessContext, facts: ResourceFacts): boolean {
  return ctx.role === 'patient' && !!ctx.personId && ctx.personId === facts.personId;
}

function deny(ctx: AccessContext, reason: DecisionReason, missing?: PersonGrant['missing']): AccessDecision {
  return { effect: 'deny', reason, purposeOfUse: ctx.purposeOfUse, ...(missing ? { missing } : {}) };
}

function identityDecision(ctx: AccessContext, facts: ResourceFacts, grant: PersonGrant): AccessDecision {
  const base = { effect: 'permit' as const, purposeOfUse: grant.purposeOfUse, ...(grant.breakGlass ? { breakGlass: true } : {}) };
  if (grant.clinical === 'all' || FULL_IDENTITY_ROLES.has(ctx.role) || ownPerson(ctx, facts)) {
    return { ...base, reason: grant.clinical === 'all' ? grant.reason : 'demographic-lookup', view: 'full' };
  }
  if (ctx.role === 'system' && facts.sourceOrgId && facts.sourceOrgId === ctx.organizationId) {
    return { ...base, reason: 'own-organization', view: 'full' };
  }
  if (LOOKUP_ROLES.has(ctx.role) || (ctx.role === 'system' && facts.systemQueryGrant)) {
    return { ...base, reason: 'demographic-lookup', view: 'demographics' };
  }
  return deny(ctx, 'role-not-permitted');
}

function clinicalDecision(ctx: AccessContext, facts: ResourceFacts, grant: PersonGrant): AccessDecision {
  const ownRow = !!grant.ownOrganizationId && facts.sourceOrgId === grant.ownOrganizationId;
  const permit: AccessDecision = {
    effect: 'permit', reason: ownRow && grant.clinical !== 'all' ? 'own-organization' : grant.reason,
    purposeOfUse: grant.purposeOfUse, ...(grant.breakGlass ? { breakGlass: true } : {}),
  };
  if (grant.reason === 'opted-out') return { effect: 'withhold', reason: 'opted-out', purposeOfUse: grant.purposeOfUse };
  if (ownRow) return permit;
  if (grant.clinical === 'none') return deny(ctx, grant.reason, grant.missing);
  if (grant.clinical === 'own-organization') return deny(ctx, 'other-organization', 'query-grant');
  if (facts.labels.some((l) => grant.hiddenLabels.includes(l))) {
    return { effect: 'withhold', reason: 'sensitive-not-shared', purposeOfUse: grant.purposeOfUse };
  }
  return permit;
}

/** Writes: systems for their own organization; staff for identities, consents and the directory. */
function writeDecision(ctx: AccessContext, facts: ResourceFacts): AccessDecision {
  const t = facts.resourceType;
  const ok =
    (ctx.role === 'system' && t !== 'Consent' && t !== 'AuditEvent' && !!ctx.organizationId && facts.sourceOrgId === ctx.organizationId) ||
    (ctx.role === 'registrar' && (IDENTITY_TYPES.has(t) || t === 'Consent')) ||
    (ctx.role === 'privacy-officer' && t === 'Consent') ||
    (ctx.role === 'admin' && (DIRECTORY_TYPES.has(t) || IDENTITY_TYPES.has(t))) ||
    (ctx.role === 'patient' && t === 'Consent' && ownPerson(ctx, facts));
  return ok ? { effect: 'permit', reason: writeReason(ctx), purposeOfUse: ctx.purposeOfUse } : deny(ctx, 'role-not-permitted');
}

function writeReason(ctx: AccessContext): DecisionReason {
  if (ctx.role === 'system') return 'own-organization';
  if (ctx.role === 'patient') return 'own-record';
  return ctx.role === 'admin' ? 'directory' : 'consent-record';
}

/**
 * The policy decision point for one resource (privacy rules §1, 2, 4, 5). Pure: the gate supplies
 * the facts, and pushes the same rules into SQL through sqlPrivacyFilter so counts and paging agree.
 */
export function decideAccess(ctx: AccessContext, facts: ResourceFacts, now: Date): AccessDecision {
  const grant = personGrant(ctx, facts, now);
  if (grant.reason === 'internal-job') return { effect: 'permit', reason: 'internal-job', purposeOfUse: 'HSYSADMIN' };
  if (facts.action === 'write') return writeDecision(ctx, facts);
  const t = facts.resourceType;
  if (DIRECTORY_TYPES.has(t)) return { effect: 'permit', reason: 'directory', purposeOfUse: ctx.purposeOfUse };
  if (t === 'AuditEvent') {
    return ctx.role === 'privacy-officer' || ownPerson(ctx, facts)
      ? { effect: 'permit', reason: 'audit-record', purposeOfUse: ownPerson(ctx, facts) ? 'PATRQT' : ctx.purposeOfUse }
      : deny(ctx, 'role-not-permitted');
  }
  if (t === 'Consent') {
    return ctx.role === 'privacy-officer' || ctx.role === 'registrar' || ownPerson(ctx, facts)
      ? { effect: 'permit', reason: 'consent-record', purposeOfUse: ctx.purposeOfUse }
      : deny(ctx, 'role-not-permitted');
  }
  if (IDENTITY_TYPES.has(t)) return identityDecision(ctx, facts, grant);
  return clinicalDecision(ctx, facts, grant);
}

/** What the gate adds to the SQL of every clinical read for one person. */
export interface SqlPrivacyFilter {
  /** none: no clinical rows; own-organization: only rows with source org = ownOrganizationId; all. */
  clinical: PersonGrant['clinical'];
  /** Exclude rows carrying any of these labels (own-organization rows of a system excepted). */
  hiddenLabels: SensitivityLabel[];
  ownOrganizationId?: string;
  purposeOfUse: PurposeOfUse;
  breakGlass: boolean;
}

export function sqlPrivacyFilter(ctx: AccessContext, facts: PersonFacts, now: Date): SqlPrivacyFilter {
  const g = personGrant(ctx, facts, now);
  return {
    clinical: g.clinical,
    hiddenLabels: g.hiddenLabels,
    ...(g.ownOrganizationId ? { ownOrganizationId: g.ownOrganizationId } : {}),
    purposeOfUse: g.purposeOfUse,
    breakGlass: g.breakGlass,
  };
}
