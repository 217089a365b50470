/**
 * A clinical write that decided its rows against the person's privacy state before an opt-out committed must not
 * leave them behind after the opt-out's purge (privacy-rules §2: an opted-out person keeps demographics only). On
 * PostgreSQL the interleaving is forced: a trigger holds the Observation's insert (after the write has read the
 * state) on an advisory lock this test owns, the opt-out runs until it commits or waits for the held write, and only
 * then is the write let go. On PGlite (one connection) both run concurrently and must end the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Patient } from '@medplum/fhirtypes';
import { verifyPurge } from '../../src/privacy-ops/verify-purge.ts';
import { databaseKinds } from '../support/databases.ts';
import { tracked, TriggerBarrier } from '../support/race-barrier.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { consent, count, facilityOrganization, fhir } from './support.ts';

const kinds = await databaseKinds();
const PATIENT: Patient & { id: string } = {
  resourceType: 'Patient', id: 'late-write-a', identifier: [{ system: 'urn:katahdin:id:LATE', value: 'late-write-a' }],
  name: [{ family: 'Thibodeau', given: ['Rosalind'] }], gender: 'female', birthDate: '1963-05-14',
};

describe.each(kinds)('a clinical write concurrent with an opt-out, on %s', (kind) => {
  let server: TestServer;
  let feed: string;
  let registrar: string;
  beforeAll(async () => {
    server = await startTestServer(kind);
    feed = await systemClientToken(server, 'late-ehr', await facilityOrganization(server, 'LATE'));
    registrar = await userWithToken(server, { username: 'late-reg', role: 'registrar' });
    expect((await fhir(server, feed, 'PUT', `/fhir/Patient/${PATIENT.id}`, PATIENT)).status).toBe(201);
  }, 300_000);
  afterAll(async () => server?.stop());

  it('two Consents recorded at once for one person both succeed (no deadlock between their recomputes)', async () => {
    for (let round = 0; round < 4; round++) {
      const both = await Promise.all([
        consent(server, registrar, PATIENT.id, 'share', { category: 'PSY' }),
        consent(server, registrar, PATIENT.id, 'share', { category: 'HIV' }),
      ]);
      expect(both.map((r) => r.status)).toEqual([200, 200]);
    }
  }, 120_000);

  it('leaves nothing of the write once the opt-out has committed', async () => {
    const db = server.services.db;
    // Holds the Observation's insert, after the write has read the person's privacy state.
    const barrier = kind === 'postgres'
      ? new TriggerBarrier(server, { table: 'resources', events: 'insert', when: `new.resource_type = 'Observation' and new.patient_id = '${PATIENT.id}'`, tag: 7 })
      : undefined;
    await barrier?.arm();
    try {
      const write = tracked(fhir(server, feed, 'POST', '/fhir/Observation', {
        resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
        subject: { reference: `Patient/${PATIENT.id}` }, effectiveDateTime: new Date().toISOString(), valueQuantity: { value: 101, unit: 'mg/dL' },
      }));
      const optOut = tracked(consent(server, registrar, PATIENT.id, 'opt-out'));
      if (barrier) {
        const pid = await barrier.held('the write to wait at its insert');
        await barrier.settledOrBlockedBehind(pid, optOut.settled, 'the opt-out to commit or wait for the write');
        await barrier.release();
      }
      expect((await write.promise).status).toBe(201);
      expect((await optOut.promise).status).toBe(200);
    } finally {
      await barrier?.release().catch(() => undefined);
      await barrier?.disarm();
    }
    expect(await count(server, `select count(*)::int as n from resources where resource_type = 'Observation' and patient_id = $1`, [PATIENT.id])).toBe(0);
    const person = (await db.query<{ person_id: string }>('select person_id from mpi_links where patient_id = $1', [PATIENT.id])).rows[0].person_id;
    expect((await verifyPurge(db, person)).ok).toBe(true);
  }, 120_000);
});
