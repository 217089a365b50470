import type { Bundle, Condition, Observation, Patient, Provenance } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/access/context.ts';
import { SOURCE_ORGANIZATION_EXTENSION } from '../../src/access/gate-scope.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { adt, EVE, fhir, patientOf, sendHl7 } from '../privacy/support.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken } from '../support/tokens.ts';

/** What an EHR sends: its own record of Eve (the person a hospital already fed over HL7 v2), a diagnosis and a result. */
const submission: Bundle = {
  resourceType: 'Bundle', type: 'transaction',
  entry: [
    {
      fullUrl: 'urn:uuid:9b1c0e52-0000-4000-8000-000000000001',
      resource: {
        resourceType: 'Patient', identifier: [{ system: 'urn:test:fsub-ehr', value: 'FB-1' }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: EVE.ssn }],
        name: [{ family: EVE.family, given: [EVE.given] }], gender: 'female', birthDate: '1975-05-01',
        address: [{ line: [EVE.street], city: EVE.city, state: EVE.state, postalCode: EVE.zip }],
      } satisfies Patient,
      request: { method: 'PUT', url: 'Patient?identifier=urn:test:fsub-ehr|FB-1' },
    },
    {
      resource: {
        resourceType: 'Condition', subject: { reference: 'urn:uuid:9b1c0e52-0000-4000-8000-000000000001' }, identifier: [{ system: 'urn:test:fsub-ehr', value: 'COND-1' }],
        code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'F32.9', display: 'Major depressive disorder' }] },
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      } satisfies Condition,
      request: { method: 'POST', url: 'Condition', ifNoneExist: 'identifier=urn:test:fsub-ehr|COND-1' },
    },
    {
      resource: {
        resourceType: 'Observation', status: 'final', subject: { reference: 'urn:uuid:9b1c0e52-0000-4000-8000-000000000001' }, identifier: [{ system: 'urn:test:fsub-ehr', value: 'OBS-1' }],
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] }, effectiveDateTime: '2026-03-02T10:00:00Z',
        valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      } satisfies Observation,
      request: { method: 'POST', url: 'Observation', ifNoneExist: 'identifier=urn:test:fsub-ehr|OBS-1' },
    },
  ],
};

describe.each(await databaseKinds())('FHIR transaction bundles from an EHR go through the ingestion pipeline (%s)', (kind) => {
  let server: TestServer;
  let orgId: string;
  let token: string;
  const rows = (type: string) => run<{ id: string; person_id: string | null; source_org: string | null; security: string[] | null }>(server.services.db,
    sql`select id, person_id, source_org, security from resources where resource_type = ${type} and not deleted and content::text like ${'%urn:test:fsub-ehr%'}`);

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'FHIR-speaking Clinic', identifier: [{ system: 'urn:test', value: 'FSUB' }] }));
    orgId = org.resource.id!;
    token = await systemClientToken(server, `fhir-ehr-${kind}`, orgId);
  }, 240_000);
  afterAll(async () => server?.stop(), 60_000);

  it('links the Patient to the person the HL7 feed made, files every entry under the sender and labels the sensitive one', async () => {
    expect(await sendHl7(server, adt(EVE, 'FSUB-HOSP', 'FH-1'))).toBe('AA');
    const fedPerson = (await patientOf(server, 'FSUB-HOSP', 'FH-1')).personId;

    const res = await fhir(server, token, 'POST', '/fhir', submission);
    expect(res.status).toBe(200);
    const answer = res.body as Bundle;
    expect(answer.type).toBe('transaction-response');
    expect(answer.entry?.map((e) => e.response?.status)).toEqual(['201 Created', '201 Created', '201 Created']);

    // MPI: the EHR's Patient is another source record of the person the hospital's feed created.
    const [patient] = await rows('Patient');
    expect(patient.person_id).toBe(fedPerson);
    const [condition] = await rows('Condition');
    const [observation] = await rows('Observation');
    for (const r of [patient, condition, observation]) expect(r.source_org).toBe(orgId);
    expect([condition.person_id, observation.person_id]).toEqual([fedPerson, fedPerson]);
    // Labelling: an ICD-10 F-code is mental health (PSY); the heart rate is not sensitive.
    expect(condition.security).toContain('PSY');
    expect(observation.security ?? []).not.toContain('PSY');

    // Provenance of the FHIR path: every item names the organization that sent it when read back.
    const read = await fhir(server, token, 'GET', `/fhir/Observation/${observation.id}`);
    expect(read.status).toBe(200);
    const obs = read.body as Observation & { extension?: Array<{ url: string; valueReference?: { reference?: string } }> };
    expect(obs.valueQuantity?.value).toBe(72);
    expect(obs.extension?.find((e) => e.url === SOURCE_ORGANIZATION_EXTENSION)?.valueReference?.reference).toBe(`Organization/${orgId}`);

    // One Provenance per submission, in the same transaction: what was written (versioned), when, and who sent it.
    const provenances = async () => (await run<{ content: Provenance; source_org: string }>(server.services.db,
      sql`select content, source_org from resources where resource_type = 'Provenance' and content->'agent'->0->'who'->>'reference' = ${`Organization/${orgId}`} order by last_updated`));
    const [first] = await provenances();
    expect(first.content.target.map((t) => t.reference).sort()).toEqual(answer.entry!.map((e) => e.response!.location).sort());
    expect(first.content.activity?.coding?.[0].code).toBe('CREATE');
    expect(first.source_org).toBe(orgId);

    // A resend of the same bundle updates and matches rather than duplicating; its Provenance names only what it wrote.
    const again = await fhir(server, token, 'POST', '/fhir', submission);
    expect(again.status).toBe(200);
    expect((await Promise.all(['Patient', 'Condition', 'Observation'].map(rows))).map((r) => r.length)).toEqual([1, 1, 1]);
    const resent = (await provenances()).map((r) => r.content);
    expect(resent).toHaveLength(2);
    expect(resent[1].target.map((t) => t.reference)).toEqual([(again.body as Bundle).entry![0].response!.location]);
    expect(resent[1].activity?.coding?.[0].code).toBe('UPDATE');
  }, 180_000);
});
