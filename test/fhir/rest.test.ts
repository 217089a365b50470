import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'fhir-kit-client';
import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

const patient = (family: string, given = 'Ada', mrn = family): Patient => ({
  resourceType: 'Patient',
  identifier: [{ system: 'urn:katahdin:id:TEST', value: mrn }],
  name: [{ family, given: [given] }],
  gender: 'female',
  birthDate: '1970-01-01',
});

describe.each(kinds)('FHIR REST API on %s', (kind) => {
  let server: TestServer;
  let client: Client;
  let token: string;
  const json = (res: { body: string }) => JSON.parse(res.body);
  const call = (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) =>
    server.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', ...headers }, payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await server.services.gate.run((await import('../../src/access/context.ts')).systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'Test Hospital' }));
    token = await systemClientToken(server, 'test-ehr', org.resource.id!);
    client = new Client({ baseUrl: `${server.url}/fhir`, customHeaders: { Authorization: `Bearer ${token}` } });
  });
  afterAll(async () => server?.stop());

  it('publishes a CapabilityStatement without a token', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/fhir/metadata' });
    expect(res.statusCode).toBe(200);
    const cs = json(res);
    expect(cs.fhirVersion).toBe('4.0.1');
    const obs = cs.rest[0].resource.find((r: { type: string }) => r.type === 'Observation');
    expect(obs.searchParam.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['code', 'date', 'patient', 'value-quantity']));
  });

  it('creates, reads, versions, updates with If-Match and deletes (fhir-kit-client)', async () => {
    const created = (await client.create({ resourceType: 'Patient', body: patient('Lovelace') as never })) as Patient;
    expect(created.id).toBeTruthy();
    expect(created.meta?.versionId).toBe('1');
    const read = (await client.read({ resourceType: 'Patient', id: created.id! })) as Patient;
    expect(read.name?.[0].family).toBe('Lovelace');
    const updated = (await client.update({ resourceType: 'Patient', id: created.id!, body: { ...read, gender: 'other' } as never, options: { headers: { 'If-Match': 'W/"1"' } } })) as Patient;
    expect(updated.meta?.versionId).toBe('2');
    const stale = await call('PUT', `/fhir/Patient/${created.id}`, { ...read, gender: 'male' }, { 'if-match': 'W/"1"' });
    expect(stale.statusCode).toBe(412);
    const v1 = (await client.vread({ resourceType: 'Patient', id: created.id!, version: '1' })) as Patient;
    expect(v1.gender).toBe('female');
    const history = (await client.history({ resourceType: 'Patient', id: created.id! })) as unknown as Bundle;
    expect(history.entry).toHaveLength(2);
    await client.delete({ resourceType: 'Patient', id: created.id! });
    const gone = await call('GET', `/fhir/Patient/${created.id}`);
    expect(gone.statusCode).toBe(410);
    expect(json(gone).resourceType).toBe('OperationOutcome');
  });

  it('conditional create returns the existing resource, conditional update upserts by identifier', async () => {
    const first = await call('POST', '/fhir/Patient', patient('Hopper', 'Grace', 'MRN-HOP'), { 'if-none-exist': 'identifier=urn:katahdin:id:TEST|MRN-HOP' });
    expect(first.statusCode).toBe(201);
    const again = await call('POST', '/fhir/Patient', patient('Hopper', 'Grace', 'MRN-HOP'), { 'if-none-exist': 'identifier=urn:katahdin:id:TEST|MRN-HOP' });
    expect(again.statusCode).toBe(200);
    expect(json(again).id).toBe(json(first).id);
    const upsert = await call('PUT', '/fhir/Patient?identifier=urn:katahdin:id:TEST|MRN-HOP', { ...patient('Hopper', 'Grace', 'MRN-HOP'), gender: 'female', birthDate: '1906-12-09' });
    expect(upsert.statusCode).toBe(200);
    expect(json(upsert).id).toBe(json(first).id);
    expect(json(upsert).birthDate).toBe('1906-12-09');
  });

  it('executes a transaction atomically with urn:uuid references, and batches independently', async () => {
    const tx: Bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111', resource: patient('Turing', 'Alan', 'MRN-T'), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, subject: { reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' }, valueQuantity: { value: 72, unit: '/min' } } as Observation, request: { method: 'POST', url: 'Observation' } },
      ],
    };
    const res = await call('POST', '/fhir', tx);
    expect(res.statusCode).toBe(200);
    const out = json(res) as Bundle;
    expect(out.type).toBe('transaction-response');
    const patientId = out.entry![0].response!.location!.split('/')[1];
    const obs = json(await call('GET', `/fhir/Observation?subject=Patient/${patientId}`)) as Bundle;
    expect(obs.total).toBe(1);
    const bad: Bundle = { ...tx, entry: [tx.entry![0], { resource: { resourceType: 'Observation', status: 'bogus' } as unknown as Observation, request: { method: 'POST', url: 'Observation' } }] };
    const failed = await call('POST', '/fhir', bad);
    expect(failed.statusCode).toBe(400);
    const count = json(await call('GET', '/fhir/Patient?identifier=urn:katahdin:id:TEST|MRN-T&_summary=count')) as Bundle;
    expect(count.total).toBe(1);
    const batch = await call('POST', '/fhir', { ...bad, type: 'batch' });
    const entries = (json(batch) as Bundle).entry!;
    expect(entries[0].response!.status).toMatch(/^201/);
    expect(entries[1].response!.status).toBe('400');
  });

  it('pages through 520 results with stable next links', async () => {
    const owner = json(await call('POST', '/fhir/Patient', patient('Pager', 'Paige', 'PG-1')));
    const entries = Array.from({ length: 520 }, (_, i) => ({
      resource: {
        resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8310-5' }] },
        subject: { reference: `Patient/${owner.id}` }, effectiveDateTime: new Date(Date.UTC(2020, 0, 1) + i * 3_600_000).toISOString(),
        valueQuantity: { value: 36 + (i % 20) / 10, unit: 'Cel', system: 'http://unitsofmeasure.org', code: 'Cel' },
      },
      request: { method: 'POST', url: 'Observation' },
    }));
    expect((await call('POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry: entries })).statusCode).toBe(200);
    const seen = new Set<string>();
    let bundle = (await client.search({ resourceType: 'Observation', searchParams: { subject: `Patient/${owner.id}`, _count: '100', _sort: '-date' } })) as unknown as Bundle;
    expect(bundle.total).toBe(520);
    for (;;) {
      for (const e of bundle.entry ?? []) seen.add(e.resource!.id!);
      const next = bundle.link?.find((l) => l.relation === 'next');
      if (!next) break;
      bundle = (await client.nextPage({ bundle: bundle as never })) as unknown as Bundle;
    }
    expect(seen.size).toBe(520);
  }, 900_000);

  it('answers bad input with an OperationOutcome and the right status', async () => {
    const cases: Array<[string, string, unknown, number]> = [
      ['POST', '/fhir/Patient', '{not json', 400],
      ['POST', '/fhir/Patient', { resourceType: 'Observation', status: 'final', code: { text: 'x' } }, 400],
      ['PUT', '/fhir/Patient/abc', { resourceType: 'Patient', id: 'xyz' }, 400],
      ['GET', '/fhir/NotAType/1', undefined, 404],
      ['GET', '/fhir/Patient/does-not-exist', undefined, 404],
      ['POST', '/fhir/Patient', { resourceType: 'Patient', gender: 'sometimes' }, 400],
      ['GET', '/fhir/Patient?birthdate=notadate', undefined, 400],
    ];
    for (const [method, url, body, status] of cases) {
      const res = await call(method, url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(status);
      expect(json(res).resourceType).toBe('OperationOutcome');
      expect(res.body).not.toMatch(/at .*\.ts:\d+/);
    }
    const huge = await call('POST', '/fhir/Patient', JSON.stringify({ resourceType: 'Patient', text: { status: 'generated', div: 'x'.repeat(17 * 1024 * 1024) } }));
    expect(huge.statusCode).toBe(413);
    const strict = await call('GET', '/fhir/Patient?nonsense=1', undefined, { prefer: 'handling=strict' });
    expect(strict.statusCode).toBe(400);
    const lenient = json(await call('GET', '/fhir/Patient?nonsense=1')) as Bundle;
    expect(lenient.entry?.some((e) => e.search?.mode === 'outcome')).toBe(true);
  });

  it('refuses requests without a valid token', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/fhir/Patient' });
    expect(res.statusCode).toBe(401);
    const forged = await server.app.inject({ method: 'GET', url: '/fhir/Patient', headers: { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' } });
    expect(forged.statusCode).toBe(401);
  });
});
