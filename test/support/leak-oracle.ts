import { expect } from 'vitest';
import type { Patient, Resource } from '@medplum/fhirtypes';
import type { CareFixture, CareState, FixtureRole } from './care-fixture.ts';

/** What a caller may get of one stored row, written down from privacy-rules §1/§4 independently of the server code. */
export type View = 'full' | 'demographics' | 'hidden';

export interface DbRow {
  resource_type: string;
  id: string;
  person_id: string | null;
  source_org: string | null;
  security: string[];
}

const RELATED: CareState[] = ['encounter', 'attestation'];

/** Types the non-clinical roles' tokens may read or search at all (their SMART scopes); others answer 403 before any row is looked at. */
const SCOPED_TYPES: Partial<Record<FixtureRole, string[]>> = {
  registrar: ['Patient', 'Person', 'Consent', 'Organization'],
  'privacy-officer': ['AuditEvent', 'Consent', 'Patient', 'Person', 'Organization', 'Practitioner'],
  admin: ['Organization', 'Practitioner', 'PractitionerRole', 'Endpoint', 'Patient', 'Person'],
};

export function typeAllowed(role: FixtureRole, type: string): boolean {
  return SCOPED_TYPES[role]?.includes(type) ?? true;
}
const DEMOGRAPHIC = ['Patient', 'Person'];
/** About no one in particular: the directory and knowledge artifacts. Anything else without a person is its sender's only. */
const SHARED_WITHOUT_PERSON = [
  'Organization', 'Practitioner', 'PractitionerRole', 'Location', 'Endpoint', 'HealthcareService',
  'ActivityDefinition', 'PlanDefinition', 'Questionnaire', 'ValueSet', 'CodeSystem', 'ConceptMap',
  'StructureDefinition', 'Library', 'Measure', 'ObservationDefinition', 'SpecimenDefinition',
];

export class LeakOracle {
  private readonly stateOf = new Map<string, CareState>();

  constructor(private readonly f: CareFixture, readonly rows: DbRow[]) {
    for (const p of Object.values(f.persons)) this.stateOf.set(p.personId, p.state);
  }

  view(role: FixtureRole, row: DbRow): View {
    const demographic = DEMOGRAPHIC.includes(row.resource_type);
    if (row.person_id === null && SHARED_WITHOUT_PERSON.includes(row.resource_type) && (row.security ?? []).length === 0) return 'full';
    switch (role) {
      case 'clinician':
      case 'clinical-staff': {
        const state = this.stateOf.get(row.person_id ?? '');
        const related = !!state && RELATED.includes(state);
        if (related && (row.security ?? []).length === 0) return 'full';
        return demographic ? 'demographics' : 'hidden';
      }
      case 'patient':
        return row.person_id === this.f.persons.encounter.personId ? 'full' : 'hidden';
      case 'system-a':
        return row.source_org === this.f.orgA ? 'full' : 'hidden';
      case 'system-b':
        return row.source_org === this.f.orgB ? 'full' : 'hidden';
      case 'system-a-query': {
        if (row.source_org === this.f.orgA) return 'full';
        // Only organization A's own encounters count: attestations are people's, never a system's.
        const related = this.stateOf.get(row.person_id ?? '') === 'encounter';
        if (related && (row.security ?? []).length === 0) return 'full';
        return demographic ? 'demographics' : 'hidden';
      }
      case 'registrar':
      case 'privacy-officer':
        return demographic || row.resource_type === 'Consent' ? 'full' : 'hidden';
      case 'admin':
        return demographic ? 'full' : 'hidden';
    }
  }

  row(type: string, id: string): DbRow {
    const r = this.rows.find((x) => x.resource_type === type && x.id === id);
    if (!r) throw new Error(`oracle: ${type}/${id} not in the database`);
    return r;
  }

  viewOf(role: FixtureRole, type: string, id: string): View {
    return this.view(role, this.row(type, id));
  }

  /** `Type/id` keys of the rows matching `where` that the role may see (in any form). */
  visible(role: FixtureRole, where: (r: DbRow) => boolean): string[] {
    return this.rows.filter((r) => where(r) && this.view(role, r) !== 'hidden').map((r) => `${r.resource_type}/${r.id}`).sort();
  }
}

export const keysOf = (resources: Array<Resource | undefined>) => resources.filter((r): r is Resource => !!r).map((r) => `${r.resourceType}/${r.id}`).sort();

/** Asserts the form of one returned resource: full content, or only name/birth date/sex/city for picking the person. */
export function expectShape(resource: Resource, view: View): void {
  expect(view).not.toBe('hidden');
  if (resource.resourceType !== 'Patient') return;
  const p = resource as Patient;
  if (view === 'full') {
    expect(p.identifier?.length, `full Patient/${p.id} keeps identifiers`).toBeGreaterThan(0);
    return;
  }
  expect(p.identifier, `demographics-only Patient/${p.id} has no identifiers`).toBeUndefined();
  expect(p.telecom, `demographics-only Patient/${p.id} has no telecom`).toBeUndefined();
  expect(p.name?.[0]?.family).toBeTruthy();
  expect(p.birthDate).toBeTruthy();
  expect(p.gender).toBeTruthy();
  for (const a of p.address ?? []) expect(Object.keys(a).sort()).toEqual(expect.arrayContaining(['city']));
  for (const a of p.address ?? []) expect(Object.keys(a).every((k) => k === 'city' || k === 'state')).toBe(true);
}

export function outcomeCode(body: { issue?: Array<{ details?: { coding?: Array<{ code?: string }> } }> }): string | undefined {
  return body.issue?.[0]?.details?.coding?.[0]?.code;
}
