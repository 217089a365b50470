import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent, AuditEventEntity, Bundle } from '@medplum/fhirtypes';
import { systemContext, type AccessContext } from '../../src/access/context.ts';
import { verifyChain } from '../../src/audit/chain.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { userWithToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

/** IHE BALP's patient entity: a Patient, type 1 (Person), role 1 (Patient). */
const patientEntity = (id: string): AuditEventEntity => ({
  what: { reference: `Patient/${id}` },
  type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1' },
  role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1' },
});

describe.each(kinds)('AuditEvents name the patient as BALP expects, as linked when audited, on %s', (kind) => {
  let server: TestServer;
  let tokens: { clinician: string; po: string; admin: string };
  let home: { patient: string; person: string };
  let away: { patient: string; person: string };
  /** The accesses: to `away` while it was its own person, then to `home` once `away` was merged into it. */
  let before: string;
  let after: string;
  const get = (url: string, token: string) => server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  const lastSeq = async () => String((await server.services.db.query<{ s: string }>('select max(seq) as s from audit_log')).rows[0].s);
  const personOf = async (id: string) => (await server.services.db.query<{ person_id: string }>('select person_id from mpi_links where patient_id = $1', [id])).rows[0].person_id;
  const patients = (e: AuditEvent) => (e.entity ?? []).filter((x) => x.what?.reference?.startsWith('Patient/') && x.role?.code === '1');

  beforeAll(async () => {
    server = await startTestServer(kind);
    const internal = systemContext('test');
    const orgId = (await server.services.gate.run(internal, { action: 'create' }, (s) => server.services.records.create(s, { resourceType: 'Organization', name: 'Rangeley Health' }))).resource.id!;
    const asOrg: AccessContext = { ...internal, organizationId: orgId };
    const write = async (r: object) => (await server.services.gate.run(asOrg, { action: 'create' }, (s) => server.services.records.create(s, r as never))).resource.id!;
    const patient = async (value: string, family: string, given: string, birthDate: string) => {
      const id = await write({ resourceType: 'Patient', identifier: [{ system: 'urn:r', value }], name: [{ family, given: [given] }], birthDate, gender: 'female' });
      await write({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${id}` }, period: { start: new Date().toISOString() } });
      return { patient: id, person: await personOf(id) };
    };
    home = await patient('H1', 'Hometown', 'Hattie', '1950-01-01');
    away = await patient('A1', 'Awayfield', 'Ada', '1990-09-09');
    expect(away.person).not.toBe(home.person);
    tokens = {
      clinician: await userWithToken(server, { username: 'dr.balp', role: 'clinician', organizationId: orgId }),
      po: await userWithToken(server, { username: 'po.balp', role: 'privacy-officer' }),
      admin: await userWithToken(server, { username: 'admin.balp', role: 'admin' }),
    };
    expect((await get(`/fhir/Patient/${away.patient}`, tokens.clinician)).statusCode).toBe(200);
    before = await lastSeq();
    const merged = await server.app.inject({
      method: 'POST', url: '/admin/mpi/merge', headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ sourcePersonId: away.person, targetPersonId: home.person }),
    });
    expect(merged.statusCode).toBe(200);
    expect(await personOf(away.patient)).toBe(home.person);
    expect((await get(`/fhir/Patient/${home.patient}`, tokens.clinician)).statusCode).toBe(200);
    after = await lastSeq();
  }, 300_000);
  afterAll(async () => server?.stop());

  it('follows each Person entity with the source Patients it had when the event was recorded', async () => {
    const earlier = (await get(`/fhir/AuditEvent/${before}`, tokens.po)).json<AuditEvent>();
    expect(earlier.entity?.map((e) => e.what?.reference)).toContain(`Person/${away.person}`);
    expect(patients(earlier)).toEqual([patientEntity(away.patient)]);
    const later = (await get(`/fhir/AuditEvent/${after}`, tokens.po)).json<AuditEvent>();
    const refs = later.entity!.map((e) => e.what?.reference);
    expect(refs.indexOf(`Person/${home.person}`)).toBeLessThan(refs.indexOf(`Patient/${home.patient}`));
    const byRef = (a: AuditEventEntity, b: AuditEventEntity) => a.what!.reference!.localeCompare(b.what!.reference!);
    expect(patients(later).sort(byRef)).toEqual([patientEntity(away.patient), patientEntity(home.patient)].sort(byRef));
    // A search renders the same events.
    const page = (await get(`/fhir/AuditEvent?_before=${after}&_count=1`, tokens.po)).json<Bundle<AuditEvent>>();
    expect(page.entry?.[0].resource).toEqual(later);
  });

  it('patient= finds the accesses under the patient\'s person and under the persons its records were part of, then', async () => {
    const found = async (patientId: string) => (await get(`/fhir/AuditEvent?patient=Patient/${patientId}&_before=${after}&_count=1000`, tokens.po))
      .json<Bundle<AuditEvent>>().entry!.map((e) => e.resource!.id);
    for (const id of [away.patient, home.patient]) {
      const ids = await found(id);
      expect(ids, `patient ${id}`).toContain(before);
      expect(ids, `patient ${id}`).toContain(after);
    }
  });

  it('renders only: the stored entries are unchanged and the log still verifies', async () => {
    const stored = (await server.services.db.query<{ entity_refs: string[] }>('select entity_refs from audit_log where seq = $1', [before])).rows[0];
    expect(stored.entity_refs).toEqual([`Patient/${away.patient}`]);
    expect((await verifyChain(server.services.db)).ok).toBe(true);
  });
});
