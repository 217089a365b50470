import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, BundleEntry, OperationOutcome, Substance } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

/** Conditional operations, id rules, `Prefer: return`, content negotiation and `_summary` of the FHIR REST API. */
describe.each(kinds)('FHIR REST semantics on %s', (kind) => {
  let server: TestServer;
  let token: string;
  const call = (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) =>
    server.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', ...headers }, payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const diagnostics = (res: { json: () => unknown }) => (res.json() as OperationOutcome).issue?.map((i) => i.diagnostics).join(' ');
  const substance = (system: string, value: string, extra: Partial<Substance> = {}): Substance => ({ resourceType: 'Substance', identifier: [{ system, value }], code: { text: value }, ...extra });
  const create = async (body: unknown) => {
    const res = await call('POST', `/fhir/${(body as { resourceType: string }).resourceType}`, body);
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as Substance & { id: string };
  };
  const current = async (id: string) => (await call('GET', `/fhir/Substance/${id}`)).json() as Substance;
  const transaction = (entry: BundleEntry[], headers: Record<string, string> = {}) => call('POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry }, headers);

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'Semantics Hospital' }));
    token = await systemClientToken(server, 'semantics-ehr', org.resource.id!);
  });
  afterAll(async () => server?.stop());

  describe('conditional criteria are parsed strictly and must select something', () => {
    it('a misspelled parameter in a conditional update is a 400 naming it, whatever the handling; nothing is overwritten', async () => {
      const s1 = await create(substance('urn:a7', 's1'));
      for (const prefer of [undefined, 'handling=strict', 'handling=lenient']) {
        const res = await call('PUT', '/fhir/Substance?identifer=urn:a7|s2', substance('urn:a7', 's2'), prefer ? { prefer } : {});
        expect(res.statusCode, String(prefer)).toBe(400);
        expect(res.json().resourceType).toBe('OperationOutcome');
        expect(diagnostics(res)).toContain('identifer');
      }
      const after = await current(s1.id);
      expect(after.meta?.versionId).toBe('1');
      expect(after.identifier?.[0].value).toBe('s1');
    });

    it('an unknown parameter in If-None-Exist is a 400, not a match of everything', async () => {
      await create(substance('urn:a8', 'x1'));
      await create(substance('urn:a8', 'x2'));
      const res = await call('POST', '/fhir/Substance', substance('urn:a8', 'x3'), { 'if-none-exist': 'bogus=1' });
      expect(res.statusCode).toBe(400);
      expect(diagnostics(res)).toContain('bogus');
      const count = (await call('GET', '/fhir/Substance?identifier=urn:a8|&_summary=count')).json() as Bundle;
      expect(count.total).toBe(2);
    });

    it('criteria that select nothing (no parameter with a value, result parameters only) are a 400', async () => {
      const s = await create(substance('urn:a9', 'only'));
      for (const url of ['/fhir/Substance?identifier=', '/fhir/Substance?_count=5', '/fhir/Substance?_format=json']) {
        const res = await call('PUT', url, substance('urn:a9', 'changed'));
        expect(res.statusCode, url).toBe(400);
      }
      expect((await call('PUT', '/fhir/Substance?identifier=urn:a9|only&_summary=count', substance('urn:a9', 'only'))).statusCode).toBe(400);
      expect((await call('POST', '/fhir/Substance', substance('urn:a9', 'other'), { 'if-none-exist': '' })).statusCode).toBe(400);
      expect((await current(s.id)).meta?.versionId).toBe('1');
    });

    it('transaction conditional updates, creates and references are checked the same way, and nothing is written', async () => {
      const s = await create(substance('urn:b1', 'kept'));
      const cases: BundleEntry[][] = [
        [{ resource: substance('urn:b1', 'overwritten'), request: { method: 'PUT', url: 'Substance?identifer=urn:b1|other' } }],
        [{ resource: substance('urn:b1', 'new'), request: { method: 'PUT', url: 'Substance?' } }],
        [{ resource: substance('urn:b1', 'new'), request: { method: 'POST', url: 'Substance', ifNoneExist: 'bogus=1' } }],
        [{ resource: { resourceType: 'Medication', code: { text: 'm' }, ingredient: [{ itemReference: { reference: 'Substance?bogus=1' } }] }, request: { method: 'POST', url: 'Medication' } }],
      ];
      for (const entry of cases) {
        const res = await transaction(entry);
        expect(res.statusCode, JSON.stringify(entry[0].request)).toBe(400);
        expect(res.json().resourceType).toBe('OperationOutcome');
      }
      expect(diagnostics(await transaction(cases[0]))).toContain('identifer');
      expect((await current(s.id)).meta?.versionId).toBe('1');
      expect(((await call('GET', '/fhir/Substance?identifier=urn:b1|&_summary=count')).json() as Bundle).total).toBe(1);
    });
  });

  describe('conditional update: If-Match and ids', () => {
    it('checks If-Match against the matched resource: 412 on a stale version, the update on the current one', async () => {
      const s = await create(substance('urn:c1', 'v'));
      for (const v of ['2', '3']) expect((await call('PUT', `/fhir/Substance/${s.id}`, { ...s, description: v })).statusCode).toBe(200);
      const stale = await call('PUT', '/fhir/Substance?identifier=urn:c1|v', substance('urn:c1', 'v', { description: 'stale' }), { 'if-match': 'W/"1"' });
      expect(stale.statusCode).toBe(412);
      expect(stale.json().resourceType).toBe('OperationOutcome');
      expect((await current(s.id)).meta?.versionId).toBe('3');
      const fresh = await call('PUT', '/fhir/Substance?identifier=urn:c1|v', substance('urn:c1', 'v', { description: 'fresh' }), { 'if-match': 'W/"3"' });
      expect(fresh.statusCode).toBe(200);
      expect(fresh.json().meta.versionId).toBe('4');
      expect(fresh.json().id).toBe(s.id);
    });

    it('with If-Match and no match, nothing is created (412)', async () => {
      const res = await call('PUT', '/fhir/Substance?identifier=urn:c2|none', substance('urn:c2', 'none'), { 'if-match': 'W/"1"' });
      expect(res.statusCode).toBe(412);
      expect(((await call('GET', '/fhir/Substance?identifier=urn:c2|none&_summary=count')).json() as Bundle).total).toBe(0);
    });

    it('a body id other than the matched resource\'s is a 400; the matched id itself is accepted', async () => {
      const s = await create(substance('urn:c3', 'id'));
      const wrong = await call('PUT', '/fhir/Substance?identifier=urn:c3|id', { ...substance('urn:c3', 'id'), id: 'someone-else' });
      expect(wrong.statusCode).toBe(400);
      expect(wrong.json().issue[0].expression).toEqual(['id']);
      expect((await current(s.id)).meta?.versionId).toBe('1');
      const right = await call('PUT', '/fhir/Substance?identifier=urn:c3|id', { ...substance('urn:c3', 'id', { description: 'ok' }), id: s.id });
      expect(right.statusCode).toBe(200);
      expect(right.json().meta.versionId).toBe('2');
      const tx = await transaction([{ resource: { ...substance('urn:c3', 'id'), id: 'someone-else' }, request: { method: 'PUT', url: 'Substance?identifier=urn:c3|id' } }]);
      expect(tx.statusCode).toBe(400);
      expect((await current(s.id)).meta?.versionId).toBe('2');
    });

    it('a plain update needs the URL id in the body (400 when missing or different), in a transaction too', async () => {
      const org = await create({ resourceType: 'Organization', name: 'Idless' });
      const missing = await call('PUT', `/fhir/Organization/${org.id}`, { resourceType: 'Organization', name: 'Renamed' });
      expect(missing.statusCode).toBe(400);
      expect(missing.json().issue[0].expression).toEqual(['id']);
      expect((await call('PUT', `/fhir/Organization/${org.id}`, { resourceType: 'Organization', id: 'other', name: 'Renamed' })).statusCode).toBe(400);
      const tx = await transaction([{ resource: { resourceType: 'Organization', name: 'Renamed' }, request: { method: 'PUT', url: `Organization/${org.id}` } }]);
      expect(tx.statusCode).toBe(400);
      const read = (await call('GET', `/fhir/Organization/${org.id}`)).json();
      expect([read.name, read.meta.versionId]).toEqual(['Idless', '1']);
    });
  });

  describe('Prefer: return', () => {
    it('minimal: an empty body with Location, ETag and Last-Modified', async () => {
      const res = await call('POST', '/fhir/Substance', substance('urn:d1', 'min'), { prefer: 'return=minimal' });
      expect(res.statusCode).toBe(201);
      expect(res.body).toBe('');
      expect(res.headers.location).toMatch(/\/fhir\/Substance\/[^/]+\/_history\/1$/);
      expect(res.headers.etag).toBe('W/"1"');
      expect(res.headers['last-modified']).toBeTruthy();
      const id = String(res.headers.location).split('/').at(-3)!;
      const update = await call('PUT', `/fhir/Substance/${id}`, { ...substance('urn:d1', 'min'), id }, { prefer: 'return=minimal' });
      expect([update.statusCode, update.body, update.headers.etag]).toEqual([200, '', 'W/"2"']);
      expect(update.headers.location).toMatch(new RegExp(`/fhir/Substance/${id}/_history/2$`));
    });

    it('OperationOutcome: an informational OperationOutcome; representation and no preference: the resource', async () => {
      const oo = await call('POST', '/fhir/Substance', substance('urn:d2', 'oo'), { prefer: 'return=OperationOutcome' });
      expect(oo.statusCode).toBe(201);
      expect(oo.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational' }] });
      expect(oo.headers.etag).toBe('W/"1"');
      for (const prefer of ['return=representation', undefined]) {
        const res = await call('POST', '/fhir/Substance', substance('urn:d2', String(prefer)), prefer ? { prefer } : {});
        expect(res.statusCode).toBe(201);
        expect(res.json()).toMatchObject({ resourceType: 'Substance', meta: { versionId: '1' } });
      }
    });

    it('transaction responses carry the resource or an outcome when asked, nothing more by default', async () => {
      const entry = (v: string): BundleEntry[] => [{ resource: substance('urn:d3', v), request: { method: 'POST', url: 'Substance' } }];
      const plain = (await transaction(entry('plain'))).json() as Bundle;
      expect(plain.entry![0].resource).toBeUndefined();
      expect(plain.entry![0].response?.status).toBe('201 Created');
      const rep = (await transaction(entry('rep'), { prefer: 'return=representation' })).json() as Bundle;
      expect(rep.entry![0].resource).toMatchObject({ resourceType: 'Substance', code: { text: 'rep' }, meta: { versionId: '1' } });
      const out = (await transaction(entry('oo'), { prefer: 'return=OperationOutcome' })).json() as Bundle;
      expect(out.entry![0].resource).toBeUndefined();
      expect(out.entry![0].response?.outcome).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'information' }] });
    });
  });

  describe('content negotiation (JSON only)', () => {
    it('406 with a JSON OperationOutcome when only formats we cannot produce are asked for', async () => {
      const refused: Array<[string, Record<string, string>]> = [
        ['/fhir/Substance', { accept: 'application/fhir+xml' }],
        ['/fhir/Substance?_format=xml', {}],
        ['/fhir/Substance?_format=html', {}],
        ['/fhir/Substance?_format=xml', { accept: 'application/fhir+json' }],
        ['/fhir/metadata', { accept: 'application/xml, text/xml;q=0.9' }],
        ['/fhir/Substance', { accept: 'application/fhir+json;q=0, application/fhir+xml' }],
      ];
      for (const [url, headers] of refused) {
        const res = await call('GET', url, undefined, headers);
        expect(res.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(406);
        expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
        expect(res.json().resourceType).toBe('OperationOutcome');
      }
    });

    it('JSON types, wildcards, browsers\' lists and no Accept at all are answered', async () => {
      const answered: Array<[string, Record<string, string>]> = [
        ['/fhir/Substance', {}],
        ['/fhir/Substance', { accept: 'application/fhir+json' }],
        ['/fhir/Substance', { accept: 'application/json' }],
        ['/fhir/Substance', { accept: 'application/*' }],
        ['/fhir/Substance', { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }],
        ['/fhir/Substance?_format=json', { accept: 'application/fhir+xml' }],
        ['/fhir/Substance?_format=application/fhir+json', {}],
        ['/fhir/Substance?_format=application%2Fjson', {}],
        ['/fhir/metadata', { accept: 'application/fhir+json; fhirVersion=4.0' }],
      ];
      for (const [url, headers] of answered) expect((await call('GET', url, undefined, headers)).statusCode, `${url} ${JSON.stringify(headers)}`).toBe(200);
    });

    it('leaves other routes and the /fhir routes with formats of their own alone', async () => {
      expect((await server.app.inject({ method: 'GET', url: '/healthz', headers: { accept: 'application/xml' } })).statusCode).toBe(200);
      expect((await server.app.inject({ method: 'GET', url: '/', headers: { accept: 'text/html' } })).statusCode).not.toBe(406);
      expect((await call('GET', '/fhir/$export-file/no-such-job/Patient.ndjson', undefined, { accept: 'application/fhir+ndjson' })).statusCode).toBe(404);
      expect((await call('GET', '/fhir/Patient/no-such-patient/$access-report?_format=csv', undefined, { accept: 'text/csv' })).statusCode).not.toBe(406);
    });

    it('a body in XML is refused with 415', async () => {
      const res = await call('POST', '/fhir/Substance', '<Substance xmlns="http://hl7.org/fhir"/>', { 'content-type': 'application/fhir+xml' });
      expect(res.statusCode).toBe(415);
      expect(res.json().resourceType).toBe('OperationOutcome');
    });
  });

  it('_summary=true keeps the summary elements (Observation.value[x]) and drops the rest', async () => {
    const obs = await create({
      resourceType: 'Observation', status: 'final', code: { text: 'summary-probe' }, valueQuantity: { value: 7, unit: 'mmol/L' },
      note: [{ text: 'not a summary element' }], interpretation: [{ text: 'high' }],
    });
    const bundle = (await call('GET', `/fhir/Observation?_id=${obs.id}&_summary=true`)).json() as Bundle;
    const found = bundle.entry![0].resource as unknown as Record<string, unknown> & { meta: { tag: unknown[] } };
    expect(found.valueQuantity).toEqual({ value: 7, unit: 'mmol/L' });
    expect(found.note).toBeUndefined();
    expect(found.interpretation).toBeUndefined();
    expect(found.meta.tag).toContainEqual({ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' });
    const text = ((await call('GET', `/fhir/Observation?_id=${obs.id}&_summary=text`)).json() as Bundle).entry![0].resource!;
    expect(Object.keys(text).sort()).toEqual(['code', 'id', 'meta', 'resourceType', 'status']);
  });

  it('_summary and _elements shape a read and a vread too; a bad value is a 400', async () => {
    const obs = await create({ resourceType: 'Observation', status: 'final', code: { text: 'read-shape' }, valueQuantity: { value: 3, unit: 'g' }, note: [{ text: 'long note' }] });
    const summary = (await call('GET', `/fhir/Observation/${obs.id}?_summary=true`)).json() as Record<string, unknown>;
    expect(summary.valueQuantity).toEqual({ value: 3, unit: 'g' });
    expect(summary.note).toBeUndefined();
    const elements = (await call('GET', `/fhir/Observation/${obs.id}/_history/1?_elements=status`)).json() as Record<string, unknown>;
    expect(Object.keys(elements).sort()).toEqual(['id', 'meta', 'resourceType', 'status']);
    expect((elements.meta as { tag: unknown[] }).tag).toContainEqual({ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' });
    expect(((await call('GET', `/fhir/Observation/${obs.id}?_summary=false`)).json() as Record<string, unknown>).note).toEqual([{ text: 'long note' }]);
    expect((await call('GET', `/fhir/Observation/${obs.id}?_summary=count`)).statusCode).toBe(400);
    expect((await call('GET', `/fhir/Observation/${obs.id}?_elements=bad;name`)).statusCode).toBe(400);
  });

  it('$everything pages through the record: every resource once, the Patient first, the total on every page and past the end', async () => {
    const patient = await create({ resourceType: 'Patient', identifier: [{ system: 'urn:everything', value: 'e1' }], name: [{ family: 'Pager' }], birthDate: '1970-01-01' });
    const created = [`Patient/${patient.id}`];
    for (let i = 0; i < 7; i++) {
      const obs = await create({ resourceType: 'Observation', status: 'final', code: { text: `page-${i}` }, subject: { reference: `Patient/${patient.id}` } });
      created.push(`Observation/${obs.id}`);
    }
    const seen: string[] = [];
    for (const offset of [0, 3, 6, 9]) {
      const res = await call('GET', `/fhir/Patient/${patient.id}/$everything?_count=3&_offset=${offset}`);
      expect(res.statusCode, res.body).toBe(200);
      const bundle = res.json() as Bundle;
      expect(bundle.total).toBe(8);
      seen.push(...(bundle.entry ?? []).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`));
    }
    expect(seen[0]).toBe(`Patient/${patient.id}`);
    expect(seen.sort()).toEqual(created.sort());
  });
});
