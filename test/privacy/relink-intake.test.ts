/**
 * privacy-rules §2–3 for the records `katahdin mpi relink` moves (the record-by-record pass, `relinkAll`, and the batch
 * pass, `bulkRelink`): a source record that joins a person who opted out brings no clinical data with it, and one
 * that joins a person who opted back in keeps only what is dated on or after the opt-in, removed in the transaction
 * that records the link (the batch pass's later Person phase failing changes nothing), and counted in the discard log
 * like data refused on arrival.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Patient, Resource } from '@medplum/fhirtypes';
import { relinkAll } from '../../src/mpi/batch-relink.ts';
import { bulkRelink } from '../../src/mpi/bulk-relink.ts';
import { verifyPurge } from '../../src/privacy-ops/verify-purge.ts';
import type { Services } from '../../src/services.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { consent, count, facilityOrganization, fhir } from './support.ts';

const kinds = await databaseKinds();
const DAY = 86_400_000;
/**
 * The batch pass once more with its last phase failing (a temporary trigger refuses every Person write): the links it
 * committed before must have brought the rules with them, not left them to that phase.
 */
async function bulkRelinkFailingPersons(s: Services): Promise<void> {
  await s.db.query(`create function katahdin_test_no_person() returns trigger language plpgsql as $$ begin raise exception 'simulated failure writing Persons'; end $$`);
  await s.db.query(`create trigger katahdin_test_no_person before insert or update on resources for each row when (new.resource_type = 'Person') execute function katahdin_test_no_person()`);
  try {
    await expect(bulkRelink(s)).rejects.toThrow('simulated failure writing Persons');
  } finally {
    await s.db.query('drop trigger katahdin_test_no_person on resources');
    await s.db.query('drop function katahdin_test_no_person()');
  }
}

const passes: Array<[string, (s: Services) => Promise<unknown>]> = [
  ['mpi relink', (s) => relinkAll(s)], ['mpi relink --batch', (s) => bulkRelink(s)], ['mpi relink --batch, failing after the links', bulkRelinkFailingPersons],
];

const patient = (id: string, mrn: string, given: string, family: string, birthDate: string, ssn: string): Patient & { id: string } => ({
  resourceType: 'Patient', id, identifier: [{ system: 'urn:katahdin:id:RL', value: mrn }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: ssn }],
  name: [{ family, given: [given] }], gender: 'female', birthDate, address: [{ line: ['12 Spruce St'], city: 'Augusta', state: 'ME', postalCode: '04330' }],
});

describe.each(kinds)('records a relink moves into an opted-out or opted-in person, on %s', (kind) => {
  describe.each(passes)('%s', (_name, relink) => {
    let server: TestServer;
    let feed = '';
    let registrar = '';
    const persons = { out: '', in: '', moved: '' };
    const obs = { out: '', before: '', after: '', stayed: '' };
    const personOf = async (patientId: string) =>
      (await server.services.db.query<{ person_id: string }>('select person_id from mpi_links where patient_id = $1', [patientId])).rows[0]?.person_id;
    const rows = (type: string, id: string) => count(server, `select (select count(*) from resources where resource_type = $1 and id = $2)
      + (select count(*) from resource_history where resource_type = $1 and id = $2) as n`, [type, id]);
    const discarded = (reason: string) => count(server, `select coalesce(sum(count), 0)::int as n from discarded_data where reason = $1 and resource_type = 'Observation'`, [reason]);
    const observation = async (patientId: string, effective: Date): Promise<string> => {
      const res = await fhir(server, feed, 'POST', '/fhir/Observation', {
        resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
        subject: { reference: `Patient/${patientId}` }, effectiveDateTime: effective.toISOString(), valueQuantity: { value: 99, unit: 'mg/dL' },
      });
      expect(res.status).toBe(201);
      return (res.body as Resource).id!;
    };
    /**
     * Puts a source record and its rows in a person of their own, as an earlier model had linked it; its record
     * stays the same as its twin's, so the current model links the two. The twin's link is confirmed (level4), so
     * the relink moves this record and not the twin.
     */
    async function splitOff(patientId: string, twin: string): Promise<void> {
      const q = `earlier-${patientId}`;
      const db = server.services.db;
      await db.query(`update mpi_links set person_id = $2, record_hash = null where patient_id = $1`, [patientId, q]);
      await db.query(`update mpi_links set assurance = 'level4' where patient_id = $1`, [twin]);
      await db.query(`update resources set person_id = $2 where patient_id = $1 or (resource_type = 'Patient' and id = $1)`, [patientId, q]);
      await db.query(`update resource_history h set person_id = $1 from resources r where r.person_id = $1 and h.resource_type = r.resource_type and h.id = r.id`, [q]);
    }

    beforeAll(async () => {
      server = await startTestServer(kind);
      const org = await facilityOrganization(server, 'RL');
      feed = await systemClientToken(server, 'rl-ehr', org);
      registrar = await userWithToken(server, { username: 'rl-reg', role: 'registrar' });
      for (const p of [patient('rl-out-a', 'OA', 'Odile', 'Outwater', '1966-05-14', '512-34-6789'), patient('rl-out-b', 'OB', 'Odile', 'Outwater', '1966-05-14', '512-34-6789'),
        patient('rl-in-c', 'IC', 'Ingrid', 'Inman', '1979-09-02', '523-45-7890'), patient('rl-in-d', 'ID', 'Ingrid', 'Inman', '1979-09-02', '523-45-7890'),
        patient('rl-mv-e', 'ME', 'Eulalie', 'Marquis', '1958-12-30', '534-56-7801'), patient('rl-mv-f', 'MF', 'Eulalie', 'Marquis', '1958-12-30', '534-56-7801')]) {
        expect((await fhir(server, feed, 'PUT', `/fhir/Patient/${p.id}`, p)).status).toBe(201);
      }
      persons.out = (await personOf('rl-out-a'))!;
      persons.in = (await personOf('rl-in-c'))!;
      expect(await personOf('rl-out-b')).toBe(persons.out);
      expect(await personOf('rl-in-d')).toBe(persons.in);
      obs.out = await observation('rl-out-b', new Date(Date.now() - 2 * DAY));
      obs.before = await observation('rl-in-d', new Date(Date.now() - 10 * DAY));
      obs.after = await observation('rl-in-d', new Date(Date.now() - DAY));
      persons.moved = (await personOf('rl-mv-e'))!;
      obs.stayed = await observation('rl-mv-e', new Date(Date.now() - DAY));
      await splitOff('rl-out-b', 'rl-out-a');
      await splitOff('rl-in-d', 'rl-in-c');
      await splitOff('rl-mv-f', 'rl-mv-e');
      // The opt-out is filed under the record that the relink moves, not under the person it joins.
      expect((await consent(server, registrar, 'rl-mv-f', 'opt-out')).status).toBeLessThan(300);
      expect((await consent(server, registrar, 'rl-out-a', 'opt-out')).status).toBeLessThan(300);
      expect((await consent(server, registrar, 'rl-in-c', 'opt-out', { date: new Date(Date.now() - 6 * DAY).toISOString() })).status).toBeLessThan(300);
      expect((await consent(server, registrar, 'rl-in-c', 'opt-in', { date: new Date(Date.now() - 3 * DAY).toISOString() })).status).toBeLessThan(300);
      // The batch pass links records oldest first: the moved records come after their twins (trimmed by the opt-outs).
      await server.services.db.query(`update resources set last_updated = now() where resource_type = 'Patient' and id in ('rl-out-b', 'rl-in-d', 'rl-mv-f')`);
      expect(await rows('Observation', obs.out)).toBe(2);
    }, 300_000);
    afterAll(async () => server?.stop());

    it('a record joining an opted-out person brings no clinical data, and is cut to the kept demographics', async () => {
      const before = await discarded('opted-out');
      await relink(server.services);
      expect(await personOf('rl-out-b')).toBe(persons.out);
      expect(await rows('Observation', obs.out)).toBe(0);
      expect(await discarded('opted-out')).toBe(before + 1);
      const moved = (await server.services.db.query<{ content: Patient }>(`select content from resources where resource_type = 'Patient' and id = 'rl-out-b'`)).rows[0].content;
      expect(moved.address).toBeUndefined();
      expect((await verifyPurge(server.services.db, persons.out)).ok).toBe(true);
    });

    it('a record joining an opted-in person keeps only what is dated on or after the opt-in', async () => {
      expect(await personOf('rl-in-d')).toBe(persons.in);
      expect(await rows('Observation', obs.before)).toBe(0);
      expect(await count(server, `select count(*)::int as n from resources where resource_type = 'Observation' and id = $1 and person_id = $2`, [obs.after, persons.in])).toBe(1);
      expect(await discarded('before-opt-in')).toBe(1);
    });

    it('a record that brings its opt-out opts the person it joins out: that person\'s clinical data goes too', async () => {
      expect(await personOf('rl-mv-f')).toBe(persons.moved);
      expect(await count(server, `select count(*)::int as n from person_privacy where person_id = $1 and opted_out`, [persons.moved])).toBe(1);
      expect(await rows('Observation', obs.stayed)).toBe(0);
      expect((await verifyPurge(server.services.db, persons.moved)).ok).toBe(true);
    });
  });
});
