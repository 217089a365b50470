// The set-based Person write (`LinkStore.writePersons` over many persons, as batch relink uses it) must leave the
// same rows as the one-by-one writes of the write path: resources, resource_history and every search index table;
// and the Persons must read, search and show their history through the FHIR API as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Patient, Person } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';

const kinds = await databaseKinds();
const SEARCH_TABLES = ['search_string', 'search_token', 'search_date', 'search_reference', 'search_quantity', 'search_number', 'search_uri'];

const patient = (mrn: string, given: string, family: string, birthDate: string, ssn: string): Patient => ({
  resourceType: 'Patient',
  identifier: [{ system: 'urn:katahdin:id:PBATCH', value: mrn }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: ssn }],
  name: [{ use: 'official', family, given: [given] }], gender: 'male', birthDate,
});

/** Everything stored about the Persons except the version number and timestamp a rewrite changes. */
async function personRows(server: TestServer): Promise<unknown> {
  const db = server.services.db;
  const resources = await run<Record<string, unknown> & { content: Person }>(db, sql`select id, deleted, patient_id, person_id, source_org, security, clinical_date, content
    from resources where resource_type = 'Person' order by id`);
  const index: Record<string, unknown[]> = {};
  for (const table of SEARCH_TABLES) {
    const rows = await db.query<Record<string, unknown>>(`select * from ${table} where resource_type = 'Person'`);
    index[table] = rows.rows.map((r) => JSON.stringify(r)).sort();
  }
  const stripMeta = ({ meta, ...rest }: Person) => ({ ...rest, meta: { ...meta, versionId: undefined, lastUpdated: undefined } });
  return { resources: resources.map((r) => ({ ...r, content: stripMeta(r.content) })), index };
}

async function history(server: TestServer): Promise<Array<{ id: string; version_id: number; person_id: string | null; content: Person }>> {
  return run(server.services.db, sql`select id, version_id, person_id, content from resource_history where resource_type = 'Person' order by id, version_id`);
}

describe.each(kinds)('set-based Person writes on %s', (kind) => {
  let server: TestServer;
  let admin: string;
  const ids: Record<string, string> = {};
  const get = async (url: string) => (await server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${admin}` } })).json();

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) => server.services.records.create(scope, { resourceType: 'Organization', name: 'Batch' }));
    const system = await systemClientToken(server, 'pbatch-ehr', org.resource.id!);
    admin = await userWithToken(server, { username: 'pbatch-admin', role: 'admin' });
    const people: Array<[string, string, string, string, string]> = [
      ['a1', 'Gaston', 'Ouellette', '1948-03-02', '123450001'], ['a2', 'Gaston', 'Ouellette', '1948-03-02', '123450001'],
      ['b1', 'Lucien', 'Pelletier', '1977-10-30', '123450002'], ['c1', 'Yvette', 'Michaud', '2001-06-15', '123450003'],
    ];
    for (const [mrn, ...rest] of people) {
      const res = await server.app.inject({ method: 'POST', url: '/fhir/Patient', headers: { authorization: `Bearer ${system}`, 'content-type': 'application/json' }, payload: JSON.stringify(patient(mrn, ...rest)) });
      expect(res.statusCode).toBe(201);
      ids[mrn] = res.json().id;
    }
    // Unlinking leaves an emptied Person behind (inactive, no links): that shape is covered too.
    const unlinked = await server.app.inject({ method: 'POST', url: '/admin/mpi/unlink', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, payload: JSON.stringify({ patientId: ids.b1 }) });
    expect(unlinked.statusCode).toBe(200);
  }, 300_000);
  afterAll(async () => server?.stop());

  it('rewrites every Person in one batch to exactly the rows the one-by-one writes left', async () => {
    const before = await personRows(server);
    const historyBefore = await history(server);
    const persons = [...new Set(historyBefore.map((h) => h.id))];
    expect(persons.length).toBe(4);
    await server.services.gate.run(systemContext('test'), { action: 'mpi-link' }, (scope) => server.services.links.writePersons(scope, persons));
    expect(await personRows(server)).toEqual(before);
    const historyAfter = await history(server);
    expect(historyAfter.length).toBe(historyBefore.length + persons.length);
    const current = await run<{ id: string; version_id: number; content: Person }>(server.services.db, sql`select id, version_id, content from resources where resource_type = 'Person'`);
    for (const row of current) {
      const latest = historyAfter.filter((h) => h.id === row.id).at(-1)!;
      expect(latest.version_id).toBe(row.version_id);
      expect(latest.content).toEqual(row.content);
      expect(latest.person_id).toBe(row.id);
      expect(row.content.meta?.versionId).toBe(String(row.version_id));
    }
  });

  it('serves the batch-written Persons through read, search and history', async () => {
    const personId = (await run<{ person_id: string }>(server.services.db, sql`select person_id from mpi_links where patient_id = ${ids.a1}`))[0].person_id;
    const read = (await get(`/fhir/Person/${personId}`)) as Person;
    expect(read.active).toBe(true);
    expect(read.link?.map((l) => l.target.reference).sort()).toEqual([`Patient/${ids.a1}`, `Patient/${ids.a2}`].sort());
    expect(read.name?.[0]?.family).toBe('Ouellette');
    const found = (await get(`/fhir/Person?link=Patient/${ids.a2}`)) as Bundle;
    expect(found.entry?.map((e) => e.resource?.id)).toEqual([personId]);
    const byName = (await get('/fhir/Person?name=Ouellette')) as Bundle;
    expect(byName.entry?.map((e) => e.resource?.id)).toEqual([personId]);
    const versions = (await get(`/fhir/Person/${personId}/_history`)) as Bundle;
    expect(versions.entry?.length).toBeGreaterThanOrEqual(3);
    expect(versions.entry?.[0]?.resource?.meta?.versionId).toBe(read.meta?.versionId);
  });
});
