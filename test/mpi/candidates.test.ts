// Candidate retrieval in SQL (`readBlockCandidates`, used inside every Patient write): the block cap, not-link
// decisions, the record itself and deleted or unlinked records, on both databases.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Patient } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { run } from '../../src/store/database.ts';
import { readBlockCandidates } from '../../src/store/mpi-reads.ts';
import { sql } from '../../src/store/sql.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

const patient = (mrn: string, given: string, ssn: string): Patient => ({
  resourceType: 'Patient',
  identifier: [{ system: 'urn:katahdin:id:CAND', value: mrn }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: ssn }],
  name: [{ use: 'official', family: 'Bouchard', given: [given] }], gender: 'female', birthDate: '1985-02-11',
});

describe.each(kinds)('block candidates in SQL on %s', (kind) => {
  let server: TestServer;
  let system: string;
  const ids: string[] = [];
  const addKey = async (key: string, patientIds: string[]) =>
    run(server.services.db, sql`insert into mpi_block_keys (key, patient_id) select ${key}, p from unnest(${patientIds}::text[]) as p`);
  const found = async (keys: string[], exclude = '') =>
    (await server.services.db.transaction((tx) => readBlockCandidates(tx, { keys, exclude, maxBlockSize: 200, limit: 500 }))).map((r) => r.patient_id).sort();

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) => server.services.records.create(scope, { resourceType: 'Organization', name: 'Cand' }));
    system = await systemClientToken(server, 'cand-ehr', org.resource.id!);
    for (const [mrn, given, ssn] of [['1', 'Odile', '321540001'], ['2', 'Rachelle', '321540002'], ['3', 'Solange', '321540003']]) {
      const res = await server.app.inject({ method: 'POST', url: '/fhir/Patient', headers: { authorization: `Bearer ${system}`, 'content-type': 'application/json' }, payload: JSON.stringify(patient(mrn, given, ssn)) });
      expect(res.statusCode).toBe(201);
      ids.push(res.json().id);
    }
  }, 300_000);
  afterAll(async () => server?.stop());

  it('returns the linked, stored members of a key with their person, content and sealed SSN', async () => {
    await addKey('t:small', [ids[0], ids[1]]);
    const rows = await server.services.db.transaction((tx) => readBlockCandidates(tx, { keys: ['t:small'], exclude: '', maxBlockSize: 200, limit: 500 }));
    expect(rows.map((r) => r.patient_id).sort()).toEqual([ids[0], ids[1]].sort());
    for (const r of rows) {
      expect(r.person_id).toBeTruthy();
      expect(r.content.resourceType).toBe('Patient');
      expect(r.ssn_ciphertext).toBeTruthy();
    }
    expect(await found(['t:small'], ids[0])).toEqual([ids[1]]);
  });

  it('ignores a key shared by more records than the cap, counting up to one past it', async () => {
    const strangers = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${i}`);
    await addKey('t:at-cap', [ids[2], ...strangers(199, 'at')]);
    await addKey('t:over-cap', [ids[2], ...strangers(200, 'over')]);
    expect(await found(['t:at-cap'])).toEqual([ids[2]]);
    expect(await found(['t:over-cap'])).toEqual([]);
    expect(await found(['t:over-cap', 't:small'])).toEqual([ids[0], ids[1]].sort());
  });

  it('keeps the records sharing the most keys when there are more than the limit, ties by id in byte order', async () => {
    await addKey('t:rank-a', [ids[0], ids[1], ids[2]]);
    await addKey('t:rank-b', [ids[2]]);
    const top = async (limit: number) => (await server.services.db.transaction((tx) =>
      readBlockCandidates(tx, { keys: ['t:rank-a', 't:rank-b'], exclude: '', maxBlockSize: 200, limit }))).map((r) => r.patient_id);
    expect(await top(1)).toEqual([ids[2]]);
    const [first, second] = [ids[0], ids[1]].sort((a, b) => (a < b ? -1 : 1));
    expect((await top(2)).sort()).toEqual([ids[2], first].sort());
    expect((await top(3)).sort()).toEqual([ids[2], first, second].sort());
  });

  it('leaves out pairs a steward marked not-link, deleted records and unknown keys', async () => {
    await run(server.services.db, sql`insert into mpi_not_links (patient_a, patient_b, decided_at) values (${'query-record'}, ${ids[1]}, now())`);
    expect(await found(['t:small'], 'query-record')).toEqual([ids[0]]);
    await run(server.services.db, sql`update resources set deleted = true where resource_type = 'Patient' and id = ${ids[0]}`);
    expect(await found(['t:small'], 'query-record')).toEqual([]);
    expect(await found(['t:none'])).toEqual([]);
    expect(await found([])).toEqual([]);
  });
});
