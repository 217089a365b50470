/**
 * privacy-rules §2–3 when a Consent leaves a person: a person who opted out and then opted back in through another
 * source record is opted out again when that record turns out to be someone else (a steward's unlink, or a relink
 * that files it under another person) — the opt-in was never theirs. The person's record must then be purged in the
 * transaction that moves the record, as for an opt-out recorded directly, not merely hidden.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Patient, Resource } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { bulkRelink } from '../../src/mpi/bulk-relink.ts';
import { unlink } from '../../src/mpi/stewardship.ts';
import { verifyPurge } from '../../src/privacy-ops/verify-purge.ts';
import type { Services } from '../../src/services.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { consent, count, facilityOrganization, fhir } from './support.ts';

const kinds = await databaseKinds();
const DAY = 86_400_000;

const patient = (id: string, given: string, family: string, birthDate: string, ssn: string): Patient & { id: string } => ({
  resourceType: 'Patient', id, identifier: [{ system: 'urn:katahdin:id:MO', value: id }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: ssn }],
  name: [{ family, given: [given] }], gender: 'female', birthDate, address: [{ line: ['8 Alder Way'], city: 'Bath', state: 'ME', postalCode: '04530' }],
});

const moves: Array<[string, (s: Services) => Promise<unknown>]> = [
  ['a steward unlinks it', (s) => s.gate.run(systemContext('test steward'), { action: 'mpi-unlink' }, (scope) => unlink(scope, s.links, 'mo-in'))],
  ['a batch relink files it under its twin', (s) => bulkRelink(s)],
];

describe.each(kinds)('an opt-in that leaves the person, on %s', (kind) => {
  describe.each(moves)('%s', (_name, move) => {
    let server: TestServer;
    let feed = '';
    let person = '';
    let observation = '';
    const db = () => server.services.db;
    const personOf = async (patientId: string) => (await db().query<{ person_id: string }>('select person_id from mpi_links where patient_id = $1', [patientId])).rows[0]?.person_id;

    beforeAll(async () => {
      server = await startTestServer(kind);
      const org = await facilityOrganization(server, 'MO');
      feed = await systemClientToken(server, 'mo-ehr', org);
      const registrar = await userWithToken(server, { username: 'mo-reg', role: 'registrar' });
      // `mo-out` is the person; `mo-in` is her namesake's record (twin of `mo-twin`), filed under her by an earlier model.
      for (const p of [patient('mo-out', 'Philippa', 'Moreau', '1958-06-01', '567-89-1234'), patient('mo-twin', 'Agathe', 'Lindqvist', '1990-02-17', '578-91-2345'),
        patient('mo-in', 'Agathe', 'Lindqvist', '1990-02-17', '578-91-2345')]) {
        expect((await fhir(server, feed, 'PUT', `/fhir/Patient/${p.id}`, p)).status).toBe(201);
      }
      person = (await personOf('mo-out'))!;
      await db().query(`update mpi_links set person_id = $1, record_hash = null where patient_id = 'mo-in'`, [person]);
      await db().query(`update resources set person_id = $1 where patient_id = 'mo-in' or (resource_type = 'Patient' and id = 'mo-in')`, [person]);
      await db().query(`update resource_history h set person_id = $1 from resources r where r.person_id = $1 and h.resource_type = r.resource_type and h.id = r.id`, [person]);
      await db().query(`update mpi_links set assurance = 'level4' where patient_id in ('mo-out', 'mo-twin')`);
      expect((await consent(server, registrar, 'mo-out', 'opt-out', { date: new Date(Date.now() - 3 * DAY).toISOString() })).status).toBe(200);
      expect((await consent(server, registrar, 'mo-in', 'opt-in', { date: new Date(Date.now() - DAY).toISOString() })).status).toBe(200);
      const res = await fhir(server, feed, 'POST', '/fhir/Observation', {
        resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
        subject: { reference: 'Patient/mo-out' }, effectiveDateTime: new Date(Date.now() - 3_600_000).toISOString(), valueQuantity: { value: 88, unit: 'mg/dL' },
      });
      expect(res.status).toBe(201);
      observation = (res.body as Resource).id!;
      // The batch pass links records oldest first: the moved record after its twin.
      await db().query(`update resources set last_updated = now() where resource_type = 'Patient' and id = 'mo-in'`);
    }, 300_000);
    afterAll(async () => server?.stop());

    it('opts the person out again and purges what she had since the opt-in, in the same transaction', async () => {
      expect(await count(server, 'select count(*)::int as n from person_privacy where person_id = $1 and not opted_out', [person])).toBe(1);
      expect(await count(server, `select count(*)::int as n from resources where resource_type = 'Observation' and id = $1`, [observation])).toBe(1);
      await move(server.services);
      expect(await personOf('mo-in')).not.toBe(person);
      expect(await count(server, 'select count(*)::int as n from person_privacy where person_id = $1 and opted_out', [person])).toBe(1);
      expect(await count(server, `select count(*)::int as n from resources where resource_type = 'Observation' and id = $1`, [observation])).toBe(0);
      expect((await verifyPurge(db(), person)).ok).toBe(true);
    });
  });
});
