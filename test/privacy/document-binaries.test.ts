/**
 * privacy-rules §4 for a document's content held in a Binary with no codes of its own (a PDF, plain text): a
 * DocumentReference labelled by its own codes passes its labels to the Binary its attachment names, so the content
 * is withheld with the document — by read, vread, search (totals included) and $everything — whether the Binary was
 * stored earlier, written in the same transaction bundle, written later than the document (labelled at its own write),
 * or stored before this rule (labelled by `katahdin privacy relabel`). Break-the-glass opens it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { relabelAll } from '../../src/privacy-ops/relabel.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { asBundle, facilityOrganization, fhir } from './support.ts';

const kinds = await databaseKinds();
/** The document's own mental-health code (ICD-10-CM F32.9) labels it PSY; its PDF says nothing a classifier reads. */
const DEPRESSION = { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'F32.9', display: 'Major depressive disorder' }] };
const pdf = (text: string) => Buffer.from(`%PDF-1.4 ${text}`).toString('base64');

describe.each(kinds)('a labelled document withholds the Binary it points to, on %s', (kind) => {
  let server: TestServer;
  let feed = '';
  let doctor = '';
  let emergency = '';
  let patient = '';
  const bin = { separate: '', bundled: '', later: '', reported: '', legacy: '', plain: '' };
  /** A Binary with no security context: outside the person's record, only relabel's reach beyond it labels it. */
  let orphan = '';

  const create = async (body: Resource): Promise<string> => {
    const res = await fhir(server, feed, 'POST', `/fhir/${body.resourceType}`, body);
    if (res.status !== 201) throw new Error(`create ${body.resourceType}: ${res.status} ${JSON.stringify(res.body)}`);
    return (res.body as Resource).id!;
  };
  const binary = (text: string, withContext = true) =>
    ({ resourceType: 'Binary', contentType: 'application/pdf', ...(withContext ? { securityContext: { reference: `Patient/${patient}` } } : {}), data: pdf(text) }) as Resource;
  const document = (url: string, labelled: boolean) => ({
    resourceType: 'DocumentReference', status: 'current', subject: { reference: `Patient/${patient}` }, date: new Date().toISOString(),
    ...(labelled ? { category: [DEPRESSION] } : {}), content: [{ attachment: { contentType: 'application/pdf', url } }],
  }) as Resource;
  /** Stored labels of the Binary: the column and meta.security of the current row, and the current history row's column. */
  const stored = async (id: string) => {
    const r = await server.services.db.query<{ security: string[]; meta: string[] | null; history: string[] }>(
      `select r.security, (select array_agg(s->>'code') from jsonb_array_elements(r.content->'meta'->'security') s) as meta, h.security as history
       from resources r join resource_history h using (resource_type, id) where r.resource_type = 'Binary' and r.id = $1 and h.version_id = r.version_id`, [id]);
    return { column: r.rows[0].security, meta: r.rows[0].meta ?? [], history: r.rows[0].history };
  };
  const keys = (b: Bundle) => (b.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);

  /** What a clinician gets of the Binaries behind labelled documents and the plain one, by every path. */
  async function view(token: string) {
    const reads = Object.fromEntries(await Promise.all(Object.entries(bin).map(async ([name, id]) => [name, (await fhir(server, token, 'GET', `/fhir/Binary/${id}`)).status])));
    const search = asBundle(await fhir(server, token, 'GET', `/fhir/Binary?_id=${Object.values(bin).join(',')}`));
    const count = asBundle(await fhir(server, token, 'GET', `/fhir/Binary?_id=${Object.values(bin).join(',')}&_summary=count`));
    const everything = asBundle(await fhir(server, token, 'GET', `/fhir/Patient/${patient}/$everything`));
    const binaries = (b: Bundle) => keys(b).filter((k) => k.startsWith('Binary/')).sort();
    return { reads, search: { keys: binaries(search), total: search.total, count: count.total }, everything: binaries(everything), everythingTotal: everything.total, everythingShown: keys(everything).length };
  }

  /** Withheld from the treating clinician at once (before any relabel run): read, search total, $everything. */
  async function withheldFromDoctor(id: string): Promise<void> {
    expect((await fhir(server, doctor, 'GET', `/fhir/Binary/${id}`)).status).toBe(403);
    expect(asBundle(await fhir(server, doctor, 'GET', `/fhir/Binary?_id=${id}`)).total).toBe(0);
    expect(keys(asBundle(await fhir(server, doctor, 'GET', `/fhir/Patient/${patient}/$everything`)))).not.toContain(`Binary/${id}`);
  }

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await facilityOrganization(server, 'DB');
    const other = await facilityOrganization(server, 'DC');
    feed = await systemClientToken(server, 'db-ehr', org);
    doctor = await userWithToken(server, { username: 'db-dr', role: 'clinician', organizationId: org });
    emergency = await userWithToken(server, { username: 'db-er', role: 'clinician', organizationId: other });
    patient = await create({ resourceType: 'Patient', identifier: [{ system: 'urn:katahdin:id:DB', value: 'DB-1' }], name: [{ family: 'Binder', given: ['Bea'] }], gender: 'female', birthDate: '1981-08-18' });
    const when = new Date(Date.now() - 86_400_000).toISOString();
    await create({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${patient}` }, period: { start: when, end: when } } as Resource);
    bin.plain = await create(binary('discharge instructions'));
    await create(document(`Binary/${bin.plain}`, false));
  }, 300_000);
  afterAll(async () => server?.stop());

  it('(a) a Binary stored first, then a labelled DocumentReference naming it: the stored Binary gains PSY in place', async () => {
    bin.separate = await create(binary('psychiatric assessment'));
    expect((await stored(bin.separate)).column).toEqual([]);
    await create(document(`Binary/${bin.separate}`, true));
    expect(await stored(bin.separate)).toEqual({ column: ['PSY'], meta: ['PSY'], history: ['PSY'] });
    expect((await stored(bin.plain)).column).toEqual([]);
    await withheldFromDoctor(bin.separate);
  });

  it('(a) a new version of that Binary keeps the label its document gave it', async () => {
    const put = await fhir(server, feed, 'PUT', `/fhir/Binary/${bin.separate}`, { ...binary('psychiatric assessment, amended'), id: bin.separate });
    expect(put.status).toBe(200);
    expect(await stored(bin.separate)).toEqual({ column: ['PSY'], meta: ['PSY'], history: ['PSY'] });
    await withheldFromDoctor(bin.separate);
    expect((await fhir(server, doctor, 'GET', `/fhir/Binary/${bin.separate}/_history/1`)).status).toBe(403);
  });

  it('(b) both in one transaction bundle, the document naming the Binary by urn:uuid', async () => {
    const res = await fhir(server, feed, 'POST', '/fhir', {
      resourceType: 'Bundle', type: 'transaction', entry: [
        { fullUrl: 'urn:uuid:9d1f0c4e-0000-4000-8000-000000000001', resource: binary('therapy note'), request: { method: 'POST', url: 'Binary' } },
        { fullUrl: 'urn:uuid:9d1f0c4e-0000-4000-8000-000000000002', resource: document('urn:uuid:9d1f0c4e-0000-4000-8000-000000000001', true), request: { method: 'POST', url: 'DocumentReference' } },
      ],
    });
    expect(res.status).toBe(200);
    const locations = ((res.body as Bundle).entry ?? []).map((e) => e.response?.location ?? '');
    bin.bundled = /^Binary\/([^/]+)/.exec(locations[0])![1];
    const docId = /^DocumentReference\/([^/]+)/.exec(locations[1])![1];
    const doc = await server.services.db.query<{ content: { content: Array<{ attachment: { url: string } }> } }>(`select content from resources where resource_type = 'DocumentReference' and id = $1`, [docId]);
    expect(doc.rows[0].content.content[0].attachment.url).toBe(`Binary/${bin.bundled}`);
    expect(await stored(bin.bundled)).toEqual({ column: ['PSY'], meta: ['PSY'], history: ['PSY'] });
    await withheldFromDoctor(bin.bundled);
  });

  it('(d) a Binary written after the labelled document that names it, in a request of its own, is stored labelled', async () => {
    bin.later = 'db-later';
    await create(document(`Binary/${bin.later}`, true));
    const put = await fhir(server, feed, 'PUT', `/fhir/Binary/${bin.later}`, { ...binary('crisis plan'), id: bin.later });
    expect(put.status).toBe(201);
    expect((put.body as Resource).meta?.security?.map((c) => c.code)).toEqual(['PSY']);
    expect(await stored(bin.later)).toEqual({ column: ['PSY'], meta: ['PSY'], history: ['PSY'] });
    await withheldFromDoctor(bin.later);
  });

  it('(d) so is one a labelled report presents by this server\'s absolute URL; a deleted document passes nothing on', async () => {
    bin.reported = 'db-reported';
    await create({
      resourceType: 'DiagnosticReport', status: 'final', code: { text: 'Psychiatric evaluation' }, conclusionCode: [DEPRESSION],
      subject: { reference: `Patient/${patient}` }, effectiveDateTime: new Date().toISOString(),
      presentedForm: [{ contentType: 'application/pdf', url: `${server.services.fhirBase}/Binary/${bin.reported}` }],
    } as Resource);
    expect((await fhir(server, feed, 'PUT', `/fhir/Binary/${bin.reported}`, { ...binary('evaluation'), id: bin.reported })).status).toBe(201);
    expect(await stored(bin.reported)).toEqual({ column: ['PSY'], meta: ['PSY'], history: ['PSY'] });
    await withheldFromDoctor(bin.reported);
    const gone = await create(document('Binary/db-after-deletion', true));
    expect((await fhir(server, feed, 'DELETE', `/fhir/DocumentReference/${gone}`)).status).toBeLessThan(300);
    expect((await fhir(server, feed, 'PUT', '/fhir/Binary/db-after-deletion', { ...binary('released', false), id: 'db-after-deletion' })).status).toBe(201);
    expect((await stored('db-after-deletion')).column).toEqual([]);
  });

  it('(c) a Binary stored unlabelled before this rule is labelled by relabel, in and outside the person\'s record; a second run changes nothing', async () => {
    bin.legacy = await create(binary('group therapy summary'));
    orphan = await create(binary('intake form', false));
    await create(document(`Binary/${bin.legacy}`, true));
    await create(document(`Binary/${orphan}`, true));
    // As stored before documents passed their labels on: no label in the column, meta.security or history.
    await server.services.db.query(`update resources set security = '{}', content = content #- '{meta,security}' where resource_type = 'Binary' and id = any($1::text[])`, [[bin.legacy, orphan]]);
    await server.services.db.query(`update resource_history set security = '{}', content = content #- '{meta,security}' where resource_type = 'Binary' and id = any($1::text[])`, [[bin.legacy, orphan]]);
    expect((await fhir(server, doctor, 'GET', `/fhir/Binary/${bin.legacy}`)).status).toBe(200);
    const report = await relabelAll(server.services.db);
    expect(report.added.PSY).toBe(2);
    expect(await stored(bin.legacy)).toEqual({ column: ['PSY'], meta: ['PSY'], history: ['PSY'] });
    expect(await stored(orphan)).toEqual({ column: ['PSY'], meta: ['PSY'], history: ['PSY'] });
    await withheldFromDoctor(bin.legacy);
    expect((await relabelAll(server.services.db)).relabelled).toBe(0);
  });

  it('a treating clinician without a share gets none of the Binaries behind labelled documents by read, search (totals) or $everything; the plain one, yes', async () => {
    const v = await view(doctor);
    expect(v.reads).toEqual({ separate: 403, bundled: 403, later: 403, reported: 403, legacy: 403, plain: 200 });
    expect(v.search).toEqual({ keys: [`Binary/${bin.plain}`], total: 1, count: 1 });
    expect(v.everything).toEqual([`Binary/${bin.plain}`]);
    expect(v.everythingTotal).toBe(v.everythingShown);
  });

  it('after break-the-glass a clinician gets every Binary by every path', async () => {
    const btg = await fhir(server, emergency, 'POST', `/fhir/Patient/${patient}/$break-the-glass`, { resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: 'crisis presentation' }] });
    expect(btg.status).toBe(200);
    const v = await view(emergency);
    expect(v.reads).toEqual({ separate: 200, bundled: 200, later: 200, reported: 200, legacy: 200, plain: 200 });
    const all = Object.values(bin).map((id) => `Binary/${id}`).sort();
    expect(v.search).toEqual({ keys: all, total: 6, count: 6 });
    expect(v.everything).toEqual(all);
    const opened = (await fhir(server, emergency, 'GET', `/fhir/Binary/${bin.separate}`)).body as { data: string };
    expect(Buffer.from(opened.data, 'base64').toString()).toContain('amended');
  });
});
