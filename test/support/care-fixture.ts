import type { Resource } from '@medplum/fhirtypes';
import { systemContext, type AccessContext } from '../../src/access/context.ts';
import type { TestServer } from './test-server.ts';
import { QUERY_ROLE_SCOPE } from '../../src/access/scopes.ts';
import { systemClientToken, userWithToken } from './tokens.ts';

/** How the clinician of organization A stands with each scenario person (privacy-rules §1). */
export type CareState = 'encounter' | 'attestation' | 'expired' | 'none';
export const STATES: CareState[] = ['encounter', 'attestation', 'expired', 'none'];

export type FixtureRole =
  | 'clinician' | 'clinical-staff' | 'registrar' | 'privacy-officer' | 'admin' | 'patient' | 'system-a' | 'system-b' | 'system-a-query';
export const ROLES: FixtureRole[] = ['clinician', 'clinical-staff', 'registrar', 'privacy-officer', 'admin', 'patient', 'system-a', 'system-b', 'system-a-query'];

export interface StoredRef {
  type: string;
  id: string;
  org: 'A' | 'B';
  sensitive?: boolean;
}

export interface ScenarioPerson {
  state: CareState;
  family: string;
  personId: string;
  /** Source Patient ids by sending organization. */
  patients: Partial<Record<'A' | 'B', string>>;
  /** Every resource stored for the person (Patients included). */
  resources: StoredRef[];
}

export interface CareFixture {
  orgA: string;
  orgB: string;
  persons: Record<CareState, ScenarioPerson>;
  tokens: Record<FixtureRole, string>;
  /** User ids (usernames) of the people with tokens. */
  users: Record<string, string>;
  ssnDigits: string;
}

const DAY = 86_400_000;
const iso = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY).toISOString();
export const HIV_CODE = { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'B20', display: 'HIV disease' };
export const GLUCOSE = { system: 'http://loinc.org', code: '2345-7', display: 'Glucose' };

/** Writes as a trusted internal job acting for one organization, so rows carry that source organization. */
async function writeAs(server: TestServer, orgId: string, resource: Resource): Promise<string> {
  const ctx: AccessContext = { ...systemContext('fixture'), organizationId: orgId };
  const out = await server.services.gate.run(ctx, { action: 'create' }, (scope) => server.services.records.create(scope, resource));
  return out.resource.id!;
}

function patientOf(plan: PersonPlan, org: string, ssn?: string): Resource {
  const { family, given, birthDate, phone, city } = plan;
  return {
    resourceType: 'Patient',
    identifier: [{ system: `urn:katahdin:mrn:${org}`, value: `${org}-${family}` }, ...(ssn ? [{ system: 'http://hl7.org/fhir/sid/us-ssn', value: ssn }] : [])],
    name: [{ family, given: [given] }],
    gender: 'female',
    birthDate,
    telecom: [{ system: 'phone', value: phone }],
    address: [{ line: [`${birthDate.slice(8)} ${family} Rd`], city, state: 'ME', postalCode: '04401' }],
  } as Resource;
}

/** One organization's record for a patient: every clinical type the leak suite reads back. */
async function clinicalSet(server: TestServer, org: 'A' | 'B', orgId: string, patientId: string, encounterDaysAgo: number, sensitive: boolean): Promise<StoredRef[]> {
  const subject = { reference: `Patient/${patientId}` };
  const refs: StoredRef[] = [];
  const add = async (r: Resource, flag = false) => {
    const id = await writeAs(server, orgId, r);
    refs.push({ type: r.resourceType, id, org, ...(flag ? { sensitive: true } : {}) });
    return id;
  };
  const enc = await add({ resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject, period: { start: iso(encounterDaysAgo), end: iso(encounterDaysAgo) } } as Resource);
  await add({ resourceType: 'Condition', subject, code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003', display: 'Hypertension' }] } } as Resource);
  const obs = await add({ resourceType: 'Observation', status: 'final', subject, encounter: { reference: `Encounter/${enc}` }, code: { coding: [GLUCOSE] }, effectiveDateTime: iso(encounterDaysAgo), valueQuantity: { value: 5.4, unit: 'mmol/L' } } as Resource);
  await add({ resourceType: 'DiagnosticReport', status: 'final', subject, code: { coding: [{ system: 'http://loinc.org', code: '24323-8', display: 'Metabolic panel' }] }, result: [{ reference: `Observation/${obs}` }] } as Resource);
  const doc = await add({ resourceType: 'DocumentReference', status: 'current', subject, content: [{ attachment: { contentType: 'text/plain', title: 'Visit note' } }] } as Resource);
  await add({ resourceType: 'Binary', contentType: 'text/plain', data: Buffer.from('visit note text').toString('base64'), securityContext: { reference: `DocumentReference/${doc}` } } as Resource);
  await add({ resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject, medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361', display: 'Amlodipine 5 MG' }] } } as Resource);
  await add({ resourceType: 'Provenance', target: [{ reference: `Observation/${obs}` }], recorded: iso(encounterDaysAgo), agent: [{ who: { reference: `Organization/${orgId}` } }] } as Resource);
  if (sensitive) await add({ resourceType: 'Condition', subject, code: { coding: [HIV_CODE] } } as Resource, true);
  return refs;
}

async function personOf(server: TestServer, patientId: string): Promise<string> {
  const rows = await server.services.db.query<{ person_id: string }>('select person_id from mpi_links where patient_id = $1', [patientId]);
  if (!rows.rows[0]) throw new Error(`fixture: Patient/${patientId} has no person`);
  return rows.rows[0].person_id;
}

interface PersonPlan {
  state: CareState;
  family: string;
  given: string;
  birthDate: string;
  phone: string;
  city: string;
  /** Days since organization A's encounter; undefined = A never saw the person. */
  aEncounterDaysAgo?: number;
}

const PLANS: PersonPlan[] = [
  { state: 'encounter', family: 'Enclave', given: 'Robin', birthDate: '1961-04-12', phone: '207-555-0142', city: 'Bangor', aEncounterDaysAgo: 30 },
  { state: 'attestation', family: 'Attwood', given: 'Marcus', birthDate: '1983-09-30', phone: '207-555-0177', city: 'Augusta' },
  { state: 'expired', family: 'Oldham', given: 'Priya', birthDate: '1947-01-05', phone: '207-555-0113', city: 'Portland', aEncounterDaysAgo: 24 * 31 },
  { state: 'none', family: 'Nobody', given: 'Tobias', birthDate: '1999-12-24', phone: '207-555-0199', city: 'Lewiston' },
];

async function buildPerson(server: TestServer, orgA: string, orgB: string, plan: PersonPlan, ssn: string): Promise<ScenarioPerson> {
  const resources: StoredRef[] = [];
  const patients: ScenarioPerson['patients'] = {};
  // B's record comes first, so a sensitive HIV Condition (B) sits beside ordinary data.
  const pb = await writeAs(server, orgB, patientOf(plan, 'B', plan.state === 'encounter' ? ssn : undefined));
  patients.B = pb;
  resources.push({ type: 'Patient', id: pb, org: 'B' }, ...(await clinicalSet(server, 'B', orgB, pb, 10, plan.state === 'encounter')));
  const personId = await personOf(server, pb);
  if (plan.aEncounterDaysAgo !== undefined) {
    const pa = await writeAs(server, orgA, patientOf(plan, 'A'));
    patients.A = pa;
    resources.push({ type: 'Patient', id: pa, org: 'A' }, ...(await clinicalSet(server, 'A', orgA, pa, plan.aEncounterDaysAgo, false)));
    const linked = await personOf(server, pa);
    // Both source records must belong to one enterprise person; the MPI links them on matching demographics.
    if (linked !== personId) throw new Error(`fixture: ${plan.family} A and B records were not linked (${linked} vs ${personId})`);
  }
  return { state: plan.state, family: plan.family, personId, patients, resources };
}

/** Organizations A and B, four scenario persons (one per care state), and one token per role. */
export async function buildCareFixture(server: TestServer): Promise<CareFixture> {
  const internal = systemContext('fixture');
  const org = async (name: string) =>
    (await server.services.gate.run(internal, { action: 'create' }, (scope) => server.services.records.create(scope, { resourceType: 'Organization', name }))).resource.id!;
  const orgA = await org('Penobscot Valley Hospital');
  const orgB = await org('Coastal Health Center');
  const ssnDigits = '123-45-9876';
  const persons = {} as Record<CareState, ScenarioPerson>;
  for (const plan of PLANS) persons[plan.state] = await buildPerson(server, orgA, orgB, plan, ssnDigits);
  const users = {
    clinician: 'dr.leak', 'clinical-staff': 'rn.leak', registrar: 'reg.leak', 'privacy-officer': 'po.leak', admin: 'admin.leak', patient: 'pat.leak',
  };
  const tokens = {
    clinician: await userWithToken(server, { username: users.clinician, role: 'clinician', organizationId: orgA }),
    'clinical-staff': await userWithToken(server, { username: users['clinical-staff'], role: 'clinical-staff', organizationId: orgA }),
    registrar: await userWithToken(server, { username: users.registrar, role: 'registrar', organizationId: orgA }),
    'privacy-officer': await userWithToken(server, { username: users['privacy-officer'], role: 'privacy-officer' }),
    admin: await userWithToken(server, { username: users.admin, role: 'admin' }),
    patient: await userWithToken(server, { username: users.patient, role: 'patient', personId: persons.encounter.personId }),
    'system-a': await systemClientToken(server, 'ehr-a', orgA),
    'system-b': await systemClientToken(server, 'ehr-b', orgB),
    // Organization A's query interface: the query role reads what A's clinicians may (privacy-rules §1).
    'system-a-query': await systemClientToken(server, 'ehr-a-query', orgA, ['system/*.cruds', QUERY_ROLE_SCOPE]),
  } satisfies Record<FixtureRole, string>;
  return { orgA, orgB, persons, tokens, users, ssnDigits };
}

/** The attestation state needs the clinician (and the clinical-staff user) to attest through the API. */
export async function attestFor(server: TestServer, token: string, patientId: string): Promise<number> {
  const res = await server.app.inject({
    method: 'POST', url: `/fhir/Patient/${patientId}/$attest`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
    payload: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: 'referred for follow-up' }] }),
  });
  return res.statusCode;
}
