import type { Patient, Resource } from '@medplum/fhirtypes';
import type { AccessContext } from './context.ts';
import type { PersonFacts } from './person-facts.ts';
import { isClinicalType } from '../privacy/intake.ts';
import { DEMOGRAPHIC_TYPES, SHARED_TYPES } from './privacy-filter.ts';
import { hasQueryRole } from './scopes.ts';

export interface OutgoingRow {
  resourceType: string;
  personId: string | null;
  sourceOrg: string | null;
  security: string[];
}

export type Verdict = 'full' | 'demographics' | 'deny';

/**
 * The second check, in code, of what the SQL filter already decided — defence in depth before serialisation.
 * It must agree with `privacyFilter`; the leak tests compare both.
 */
export function verdictFor(ctx: AccessContext, row: OutgoingRow, facts: PersonFacts | undefined): Verdict {
  if (ctx.internal) return 'full';
  const shared = row.personId === null && SHARED_TYPES.includes(row.resourceType) && row.security.length === 0;
  if (shared) return 'full';
  const demographic = DEMOGRAPHIC_TYPES.includes(row.resourceType);
  const kept = !(facts?.optedOut && isClinicalType(row.resourceType));
  switch (ctx.role) {
    case 'clinician':
    case 'clinical-staff':
      return kept && inCare(facts, row) ? 'full' : demographic ? 'demographics' : 'deny';
    case 'patient':
      return kept && row.personId === ctx.personId ? 'full' : 'deny';
    case 'system': {
      if (kept && row.sourceOrg !== null && row.sourceOrg === ctx.organizationId) return 'full';
      if (!hasQueryRole(ctx)) return 'deny';
      return kept && inCare(facts, row) ? 'full' : demographic ? 'demographics' : 'deny';
    }
    case 'registrar':
    case 'privacy-officer':
      return demographic || row.resourceType === 'Consent' ? 'full' : 'deny';
    case 'admin':
      return demographic ? 'full' : 'deny';
  }
}

/** The person is in the caller's care and every label on the row is shared by the patient or opened by break-the-glass. */
function inCare(facts: PersonFacts | undefined, row: OutgoingRow): boolean {
  const related = !!facts && facts.relationship !== 'none';
  return related && row.security.every((l) => facts?.breakGlass || facts?.sharedLabels.includes(l));
}

/** Only what is needed to pick the right person: name, birth date, sex, city (privacy-rules §1). */
export function demographicsOnly(resource: Resource): Resource {
  if (resource.resourceType !== 'Patient') {
    return { resourceType: resource.resourceType, id: resource.id, meta: resource.meta } as Resource;
  }
  const p = resource as Patient;
  return {
    resourceType: 'Patient',
    id: p.id,
    meta: { ...p.meta, tag: [...(p.meta?.tag ?? []), { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'REDACTED', display: 'demographics only' }] },
    extension: p.extension?.filter((e) => e.url.startsWith('https://katahdin.org/')),
    name: p.name,
    gender: p.gender,
    birthDate: p.birthDate,
    address: p.address?.map((a) => ({ city: a.city, state: a.state })),
  };
}
