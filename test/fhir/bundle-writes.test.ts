import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, BundleEntry, Observation, Resource } from '@medplum/fhirtypes';
import { systemContext, type AccessContext } from '../../src/access/context.ts';
import { conditionalKey } from '../../src/record/conditional-locks.ts';
import { databaseKinds, PG_URL } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const kinds = await databaseKinds();
const SYNTHEA = resolve(process.cwd(), '../shared/corpora/synthea-r4/bundles');
const INDEX_TABLES = ['search_string', 'search_token', 'search_date', 'search_reference', 'search_quantity', 'search_number', 'search_uri'];

const observation = (subject: string, code: string, extra: Partial<Observation> = {}): Observation => ({
  resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] }, subject: { reference: subject },
  effectiveDateTime: '2024-05-01T10:00:00Z', valueQuantity: { value: 5.4, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' }, ...extra,
});
const post = (fullUrl: string, resource: Resource, ifNoneExist?: string): BundleEntry => ({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType, ifNoneExist } });

/** A small bundle: a Patient and its results, as an EHR would send them. */
function patientBundle(mrn: string, observations: Observation[]): BundleEntry[] {
  return [
    post('urn:uuid:p', { resourceType: 'Patient', identifier: [{ system: 'urn:test:mrn', value: mrn }], name: [{ family: 'Batch', given: ['Bo'] }], birthDate: '1980-02-02' }),
    ...observations.map((o, i) => post(`urn:uuid:o${i}`, o)),
  ];
}

describe.each(kinds)('transaction bundles written as one batch on %s', (kind) => {
  let server: TestServer;
  let ctx: AccessContext;
  const transaction = (entries: BundleEntry[]) => server.services.gate.run(ctx, { action: 'create' }, (scope) => server.services.transactions.transaction(scope, entries));
  const count = async (table: string) => Number((await server.services.db.query<{ n: string }>(`select count(*) as n from ${table}`)).rows[0].n);
  const ids = (responses: BundleEntry[]) => responses.map((r) => r.response!.location!.split('/').slice(0, 2).join('/'));

  /** Every index row of the given resources, keyed by the resource's position in the list (ids differ between copies). */
  async function indexRows(keys: string[]): Promise<string[]> {
    const position = new Map(keys.map((k, i) => [k, i]));
    const out: string[] = [];
    for (const table of INDEX_TABLES) {
      const { rows } = await server.services.db.query<Record<string, unknown>>(
        `select * from ${table} where (resource_type, id) in (select * from unnest($1::text[], $2::text[]))`,
        [keys.map((k) => k.split('/')[0]), keys.map((k) => k.split('/')[1])],
      );
      for (const { resource_type, id, ...rest } of rows) out.push(`${table} ${position.get(`${resource_type}/${id}`)} ${JSON.stringify(rest)}`);
    }
    return out.sort();
  }

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'Batch Hospital' }));
    ctx = { ...systemContext('batch test'), internal: false, clientId: 'batch-ehr', organizationId: org.resource.id!, purposeOfUse: 'TREAT' };
  }, 120_000);
  afterAll(async () => server?.stop());

  it('writes nothing when one entry fails validation', async () => {
    const before = await Promise.all(['resources', 'resource_history', 'search_token', 'audit_log'].map(count));
    const bad = { ...observation('urn:uuid:p', '2345-7'), status: 'not-a-status' } as unknown as Observation;
    const entries = patientBundle('ATOMIC-1', [observation('urn:uuid:p', '2345-7'), bad, observation('urn:uuid:p', '718-7')]);
    await expect(transaction(entries)).rejects.toMatchObject({ status: 400 });
    const after = await Promise.all(['resources', 'resource_history', 'search_token'].map(count));
    expect(after).toEqual(before.slice(0, 3));
    // The refused attempt itself is audited (in its own transaction): one row more, nothing else.
    expect(await count('audit_log')).toBe(before[3] + 1);
  });

  it('rolls back the whole bundle when a write fails after others were queued', async () => {
    const [patientKey, obsKey] = ids(await transaction(patientBundle('ATOMIC-2', [observation('urn:uuid:p', '2345-7')])));
    const before = await Promise.all(['resources', 'resource_history', 'search_token'].map(count));
    const update: BundleEntry = {
      resource: { ...observation(patientKey, '718-7'), id: obsKey.split('/')[1] },
      request: { method: 'PUT', url: obsKey, ifMatch: 'W/"7"' },
    };
    await expect(transaction([post('urn:uuid:n', observation(patientKey, '2093-3')), update])).rejects.toMatchObject({ status: 412 });
    expect(await Promise.all(['resources', 'resource_history', 'search_token'].map(count))).toEqual(before);
  });

  it('indexes a batch exactly as one-by-one writes of the same resources', async () => {
    const file = existsSync(SYNTHEA) ? readdirSync(SYNTHEA).filter((f) => f.endsWith('.json')).sort()[0] : undefined;
    const entries = file
      ? (JSON.parse(readFileSync(join(SYNTHEA, file), 'utf8')) as Bundle).entry!
      : patientBundle('INDEX-1', ['2345-7', '718-7', '2093-3'].map((c) => observation('urn:uuid:p', c)));
    const batched = ids(await transaction(entries));
    const stored = (await server.services.db.query<{ resource_type: string; id: string; content: Resource; security: string[]; patient_id: string | null; person_id: string | null }>(
      `select resource_type, id, content, security, patient_id, person_id from resources where (resource_type, id) in (select * from unnest($1::text[], $2::text[]))`,
      [batched.map((k) => k.split('/')[0]), batched.map((k) => k.split('/')[1])],
    )).rows;
    const byKey = new Map(stored.map((r) => [`${r.resource_type}/${r.id}`, r]));
    const copies = await server.services.gate.run(ctx, { action: 'create' }, async (scope) => {
      const out: string[] = [];
      for (const key of batched) {
        const row = byKey.get(key)!;
        const copy = await scope.write({
          resource: { ...row.content, id: `${row.id}-copy` }, security: row.security, patientId: row.patient_id ?? undefined,
          personId: row.person_id ?? undefined, sourceOrg: ctx.organizationId, action: 'create',
        });
        out.push(`${copy.resourceType}/${copy.id}`);
      }
      return out;
    });
    const rows = await indexRows(batched);
    expect(rows.length).toBeGreaterThan(batched.length);
    expect(rows).toEqual(await indexRows(copies));
  }, 120_000);

  it('replaces the index rows of resources updated in a batch', async () => {
    const [patientKey, obsKey] = ids(await transaction(patientBundle('UPDATE-1', [observation('urn:uuid:p', '2345-7')])));
    const changed = { ...observation(patientKey, '718-7'), id: obsKey.split('/')[1] };
    await transaction([{ resource: changed, request: { method: 'PUT', url: obsKey } }, post('urn:uuid:n', observation(patientKey, '2093-3'))]);
    const codes = (await server.services.db.query<{ value: string }>(
      `select value from search_token where resource_type = 'Observation' and id = $1 and param = 'code'`, [obsKey.split('/')[1]])).rows.map((r) => r.value);
    expect(codes).toEqual(['718-7']);
  });

  it('passes a label inherited from a stored resource on to what references it in the same batch', async () => {
    const [patientKey] = ids(await transaction(patientBundle('LABEL-1', [])));
    const hiv = { resourceType: 'Condition', subject: { reference: patientKey }, code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'B20' }] } } as Resource;
    const [conditionKey] = ids(await transaction([post('urn:uuid:c', hiv)]));
    // The result inherits HIV from the stored Condition; the report gets it from the result, written in the same batch.
    const keys = ids(await transaction([
      post('urn:uuid:o', observation(patientKey, '2345-7', { focus: [{ reference: conditionKey }] })),
      post('urn:uuid:r', { resourceType: 'DiagnosticReport', status: 'final', code: { text: 'panel' }, subject: { reference: patientKey }, result: [{ reference: 'urn:uuid:o' }] }),
    ]));
    const security = async (key: string) => (await server.services.db.query<{ security: string[] }>(
      'select security from resources where resource_type = $1 and id = $2', key.split('/'))).rows[0].security;
    expect(await security(conditionKey)).toContain('HIV');
    expect(await security(keys[0])).toContain('HIV');
    expect(await security(keys[1])).toContain('HIV');
  });

  it.skipIf(kind !== 'postgres')('locks only conditional keys not known to exist', async () => {
    const identifier = 'identifier=urn:test:facility|LOCK-1';
    const org = () => post('urn:uuid:org', { resourceType: 'Organization', name: 'Lock Clinic', identifier: [{ system: 'urn:test:facility', value: 'LOCK-1' }] }, identifier);
    await transaction([org()]);
    await transaction([org()]);
    const holder = new pg.Client({ connectionString: PG_URL });
    await holder.connect();
    try {
      const hold = (key: string) => holder.query('select pg_advisory_lock(hashtextextended($1, 0))', [key]);
      const release = (key: string) => holder.query('select pg_advisory_unlock(hashtextextended($1, 0))', [key]);
      await hold(conditionalKey('Organization', identifier));
      // The organization exists: a message mentioning it goes through while another transaction holds its key.
      const [existing] = await transaction([org()]);
      expect(existing.response?.status).toBe('200 OK');
      await release(conditionalKey('Organization', identifier));

      const fresh = 'identifier=urn:test:facility|LOCK-2';
      await hold(conditionalKey('Organization', fresh));
      let done = false;
      const pending = transaction([post('urn:uuid:new', { resourceType: 'Organization', name: 'New Clinic' }, fresh)]).then((r) => {
        done = true;
        return r;
      });
      await new Promise((r) => setTimeout(r, 500));
      expect(done).toBe(false);
      await release(conditionalKey('Organization', fresh));
      expect((await pending)[0].response?.status).toBe('201 Created');
    } finally {
      await holder.end();
    }
  });

  it('creates one resource for a new conditional key that appears twice in one bundle', async () => {
    const identifier = 'identifier=urn:test:npi|TWICE-1';
    const author = (name: string) => post(`urn:uuid:${name}`, { resourceType: 'Practitioner', name: [{ family: name }], identifier: [{ system: 'urn:test:npi', value: 'TWICE-1' }] }, identifier);
    const [first, second] = await transaction([author('Once'), author('Again')]);
    expect(first.response?.status).toBe('201 Created');
    expect(second.response).toMatchObject({ status: '200 OK', location: first.response?.location });
    const [later] = await transaction([author('Later')]);
    expect(later.response).toMatchObject({ status: '200 OK', location: first.response?.location });
  });

  it('creates a new conditional key once when parallel transactions race for it', async () => {
    const identifier = 'identifier=urn:test:facility|RACE-1';
    await Promise.all(Array.from({ length: 4 }, () =>
      transaction([post('urn:uuid:org', { resourceType: 'Organization', name: 'Race Clinic', identifier: [{ system: 'urn:test:facility', value: 'RACE-1' }] }, identifier)])));
    const { rows } = await server.services.db.query<{ n: string }>(
      `select count(*) as n from search_token where resource_type = 'Organization' and param = 'identifier' and system = 'urn:test:facility' and value = 'RACE-1'`);
    expect(Number(rows[0].n)).toBe(1);
  });
});
