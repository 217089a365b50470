import type { Role } from '../access/context.ts';

/** An encounter about the person that an organization sent (facts the store provides). */
export interface EncounterFact {
  orgId: string;
  /** FHIR R4 Encounter.status. */
  status: string;
  start?: string;
  end?: string;
}

/** A referral (ServiceRequest) of the person to an organization. */
export interface ReferralFact {
  orgId: string;
  /** FHIR R4 ServiceRequest.status. */
  status: string;
}

/** A user's attested treatment relationship with this person. */
export interface AttestationFact {
  userId: string;
  expiresAt: string;
}

export interface RelationshipFacts {
  encounters: EncounterFact[];
  referrals?: ReferralFact[];
  attestations: AttestationFact[];
}

export interface RelationshipConfig {
  /** How long an organization's past encounter keeps the relationship (rule: 18 months). */
  encounterMonths: number;
}

export const DEFAULT_RELATIONSHIP_CONFIG: RelationshipConfig = { encounterMonths: 18 };

export type RelationshipKind = 'active-encounter' | 'encounter' | 'attestation' | 'expired' | 'none';

export interface Relationship {
  kind: RelationshipKind;
  /** When the relationship lapses (absent for active encounters and referrals: they last while open). */
  until?: string;
  /** What established it, for the audit record and the 403 explanation. */
  basis?: 'encounter' | 'scheduled-or-active-encounter' | 'referral' | 'attestation';
}

export interface Requester {
  role: Role;
  organizationId?: string;
  userId?: string;
}

/** Scheduled, admitted or in progress (R4 Encounter.status). */
const OPEN_ENCOUNTER = new Set(['planned', 'arrived', 'triaged', 'in-progress', 'onleave']);
const VOID_ENCOUNTER = new Set(['cancelled', 'entered-in-error']);
const OPEN_REFERRAL = new Set(['active', 'on-hold']);

export function addMonths(iso: string, months: number): Date {
  const d = new Date(iso);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, lastDay));
  return d;
}

function latest(dates: Date[]): Date | undefined {
  return dates.length ? new Date(Math.max(...dates.map((d) => d.getTime()))) : undefined;
}

/** Until when past encounters of the organization keep the relationship (latest end or start + N months). */
function encounterWindow(facts: RelationshipFacts, orgId: string, cfg: RelationshipConfig): Date | undefined {
  const ends = facts.encounters
    .filter((e) => e.orgId === orgId && !VOID_ENCOUNTER.has(e.status) && !OPEN_ENCOUNTER.has(e.status))
    .map((e) => e.end ?? e.start)
    .filter((d): d is string => !!d && !Number.isNaN(Date.parse(d)))
    .map((d) => addMonths(d, cfg.encounterMonths));
  return latest(ends);
}

/**
 * The care relationship between the requester (their organization, and the user for attestations)
 * and one person, at `now`. Strongest first: an open encounter or referral, a recent encounter, an
 * attestation; `expired` when one existed but lapsed, so the 403 can say so.
 */
export function relationshipFor(
  who: Requester,
  facts: RelationshipFacts,
  now: Date,
  cfg: RelationshipConfig = DEFAULT_RELATIONSHIP_CONFIG,
): Relationship {
  const org = who.organizationId;
  if (org && facts.encounters.some((e) => e.orgId === org && OPEN_ENCOUNTER.has(e.status))) {
    return { kind: 'active-encounter', basis: 'scheduled-or-active-encounter' };
  }
  if (org && (facts.referrals ?? []).some((r) => r.orgId === org && OPEN_REFERRAL.has(r.status))) {
    return { kind: 'active-encounter', basis: 'referral' };
  }
  const encUntil = org ? encounterWindow(facts, org, cfg) : undefined;
  if (encUntil && encUntil > now) return { kind: 'encounter', until: encUntil.toISOString(), basis: 'encounter' };
  const attUntil = latest(
    facts.attestations.filter((a) => who.userId && a.userId === who.userId).map((a) => new Date(a.expiresAt)),
  );
  if (attUntil && attUntil > now) return { kind: 'attestation', until: attUntil.toISOString(), basis: 'attestation' };
  const lapsed = latest([encUntil, attUntil].filter((d): d is Date => !!d));
  return lapsed ? { kind: 'expired', until: lapsed.toISOString() } : { kind: 'none' };
}

/** Whether a relationship currently lets clinical users see the record. */
export function isActiveRelationship(r: Relationship): boolean {
  return r.kind === 'active-encounter' || r.kind === 'encounter' || r.kind === 'attestation';
}

/** Default attestation length (rule: 30 days). */
export const ATTESTATION_DAYS = 30;

export function attestationExpiry(attestedAt: Date, days: number = ATTESTATION_DAYS): string {
  return new Date(attestedAt.getTime() + days * 86_400_000).toISOString();
}
