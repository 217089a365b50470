/**
 * privacy-rules §2–3 for a Binary, which has no clinical date of its own: after an opt-in it goes with what presents it,
 * named however label propagation reads an attachment — a DocumentReference's attachment, a DiagnosticReport's
 * presentedForm, a Media's content; `Binary/id`, a versioned `Binary/id/_history/n`, or either under this server's FHIR
 * base — so a PDF of a report dated before the opt-in is not kept in the record. A Binary that a kept document presents
 * too stays (it is that document's content), and another server's `…/Binary/id` names no Binary here. While the person
 * is opted out, a Binary of no person (no security context) goes with their report as well. Through a FHIR transaction
 * and for rows that join the person late (stored before their source Patient was known).
 */
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { consent, count, facilityOrganization, fhir } from './support.ts';

const kinds = await databaseKinds();
const DAY = 86_400_000;
const FOREIGN = 'http://other.example.org/fhir';
const ADA = { family: 'Optinson', given: 'Ada', gender: 'female', birthDate: '1968-02-03', ssn: '432-19-5151', line: '12 Spruce St', city: 'Brewer', zip: '04412' };
const OTTO = { family: 'Outerby', given: 'Otto', gender: 'male', birthDate: '1959-09-09', ssn: '432-19-6262', line: '3 Ledge Rd', city: 'Orrington', zip: '04474' };

describe.each(kinds)('Binaries follow the documents presenting them after an opt-in or opt-out, on %s', (kind) => {
  let server: TestServer;
  let base = '';
  let feed = '';
  let before = '';
  let after = '';

  /** Rows of a resource, current and history: 0 when it was never stored. */
  const traces = (type: string, id: string) => count(server, `select (select count(*) from resources where resource_type = $1 and id = $2)
    + (select count(*) from resource_history where resource_type = $1 and id = $2) as n`, [type, id]);
  const current = (type: string, id: string) => count(server, 'select count(*)::int as n from resources where resource_type = $1 and id = $2 and deleted = false', [type, id]);
  const discardedBinaries = () => count(server, `select coalesce(sum(count), 0)::int as n from discarded_data where reason = 'before-opt-in' and resource_type = 'Binary'`);
  const personRows = (patientId: string, type: string) => count(server, 'select count(*)::int as n from resources where patient_id = $1 and resource_type = $2', [patientId, type]);
  /** A PDF about `owner` (its security context), or about no one. */
  const pdf = (id: string, owner?: string): Resource & { id: string } => ({
    resourceType: 'Binary', id, contentType: 'application/pdf', data: Buffer.from(`%PDF-1.4 ${id}`).toString('base64'),
    ...(owner ? { securityContext: { reference: `Patient/${owner}` } } : {}),
  }) as Resource & { id: string };
  const documentReference = (subject: string, date: string, url: string) => ({
    resourceType: 'DocumentReference', status: 'current', subject: { reference: `Patient/${subject}` }, date,
    content: [{ attachment: { contentType: 'application/pdf', url } }],
  }) as Resource;
  const report = (subject: string, effective: string, url: string) => ({
    resourceType: 'DiagnosticReport', status: 'final', code: { text: 'Echocardiogram' }, subject: { reference: `Patient/${subject}` },
    effectiveDateTime: effective, presentedForm: [{ contentType: 'application/pdf', url }],
  }) as Resource;
  const media = (subject: string, created: string, url: string) => ({
    resourceType: 'Media', status: 'completed', subject: { reference: `Patient/${subject}` }, createdDateTime: created, content: { contentType: 'image/jpeg', url },
  }) as Resource;
  const patient = (id: string, mrn: string, who: typeof ADA = ADA) => ({
    resourceType: 'Patient', id, identifier: [{ system: 'urn:katahdin:id:OIB', value: mrn }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: who.ssn }],
    name: [{ family: who.family, given: [who.given] }], gender: who.gender, birthDate: who.birthDate,
    address: [{ line: [who.line], city: who.city, state: 'ME', postalCode: who.zip }],
  }) as Resource & { id: string };
  const put = async (body: Resource & { id: string }) => {
    const res = await fhir(server, feed, 'PUT', `/fhir/${body.resourceType}/${body.id}`, body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    base = server.services.fhirBase;
    const org = await facilityOrganization(server, 'OIB');
    feed = await systemClientToken(server, 'oib-ehr', org);
    const registrar = await userWithToken(server, { username: 'oib-reg', role: 'registrar' });
    await put(patient('oib-ada', 'OIB-1'));
    await put(patient('oib-out', 'OIB-3', OTTO));
    expect((await consent(server, registrar, 'oib-out', 'opt-out')).status).toBe(200);
    expect((await consent(server, registrar, 'oib-ada', 'opt-out')).status).toBe(200);
    const optIn = new Date();
    expect((await consent(server, registrar, 'oib-ada', 'opt-in', { date: optIn.toISOString() })).status).toBe(200);
    before = new Date(optIn.getTime() - 30 * DAY).toISOString();
    after = new Date(optIn.getTime() + 60_000).toISOString();
  }, 300_000);
  afterAll(async () => server?.stop());

  it('in a transaction: a Binary presented only by documents dated before the opt-in is not stored, however it is named', async () => {
    const discardedBefore = await discardedBinaries();
    const putEntry = (resource: Resource & { id: string }): BundleEntry => ({ resource, request: { method: 'PUT', url: `Binary/${resource.id}` } });
    const postEntry = (resource: Resource): BundleEntry => ({ resource, request: { method: 'POST', url: resource.resourceType } });
    const res = await fhir(server, feed, 'POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry: [
      putEntry(pdf('oib-versioned', 'oib-ada')),
      postEntry(documentReference('oib-ada', before, 'Binary/oib-versioned/_history/1')),
      putEntry(pdf('oib-report', 'oib-ada')),
      postEntry(report('oib-ada', before, `${base}/Binary/oib-report/_history/1`)),
      // Without a security context the Binary has no person of its own: only the Media it is the content of decides.
      putEntry(pdf('oib-media')),
      postEntry(media('oib-ada', before, `${base}/Binary/oib-media`)),
      putEntry(pdf('oib-shared', 'oib-ada')),
      postEntry(documentReference('oib-ada', before, 'Binary/oib-shared')),
      postEntry(report('oib-ada', after, `${base}/Binary/oib-shared/_history/1`)),
      putEntry(pdf('oib-foreign', 'oib-ada')),
      postEntry(documentReference('oib-ada', before, `${FOREIGN}/Binary/oib-foreign`)),
    ] } satisfies Bundle);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    // The sender is not told which entries were discarded.
    expect((res.body as Bundle).entry?.map((e) => e.response?.status.slice(0, 3))).toEqual(Array(11).fill('201'));
    expect({
      versioned: await traces('Binary', 'oib-versioned'), report: await traces('Binary', 'oib-report'), media: await traces('Binary', 'oib-media'),
      shared: await current('Binary', 'oib-shared'), foreign: await current('Binary', 'oib-foreign'),
    }).toEqual({ versioned: 0, report: 0, media: 0, shared: 1, foreign: 1 });
    expect(await personRows('oib-ada', 'DocumentReference')).toBe(0);
    expect(await personRows('oib-ada', 'Media')).toBe(0);
    expect(await personRows('oib-ada', 'DiagnosticReport')).toBe(1);
    expect(await discardedBinaries()).toBe(discardedBefore + 3);
  });

  it('while opted out: a Binary of no person goes with the report presenting it by a versioned URL under this server\'s base', async () => {
    const discardedBefore = await count(server, `select coalesce(sum(count), 0)::int as n from discarded_data where reason = 'opted-out' and resource_type = 'Binary'`);
    const res = await fhir(server, feed, 'POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry: [
      { resource: pdf('oib-out-pdf'), request: { method: 'PUT', url: 'Binary/oib-out-pdf' } },
      { resource: report('oib-out', after, `${base}/Binary/oib-out-pdf/_history/1`), request: { method: 'POST', url: 'DiagnosticReport' } },
    ] } satisfies Bundle);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await traces('Binary', 'oib-out-pdf')).toBe(0);
    expect(await personRows('oib-out', 'DiagnosticReport')).toBe(0);
    expect(await count(server, `select coalesce(sum(count), 0)::int as n from discarded_data where reason = 'opted-out' and resource_type = 'Binary'`)).toBe(discardedBefore + 1);
  });

  it('rows that join the person late: a Binary presented by a report dated before the opt-in goes with it; another server\'s URL names none', async () => {
    const late = 'oib-ada-late';
    const sent = async (r: Resource) => expect((await fhir(server, feed, 'POST', `/fhir/${r.resourceType}`, r)).status).toBe(201);
    await sent(report(late, before, `${base}/Binary/oib-late-pdf/_history/1`));
    await put(pdf('oib-late-pdf', late));
    await sent(documentReference(late, before, `${FOREIGN}/Binary/oib-late-foreign`));
    await put(pdf('oib-late-foreign', late));
    // Stored without a person so far: nobody knew the patient.
    expect(await count(server, `select count(*)::int as n from resources where patient_id = $1 and person_id is null`, [late])).toBe(4);
    const discardedBefore = await discardedBinaries();
    await put(patient(late, 'OIB-2'));
    const personOf = (patientId: string) => count(server, `select count(*)::int as n from mpi_links a join mpi_links b on a.person_id = b.person_id
      where a.patient_id = $1 and b.patient_id = 'oib-ada'`, [patientId]);
    expect(await personOf(late)).toBe(1);
    expect({ pdf: await traces('Binary', 'oib-late-pdf'), foreign: await current('Binary', 'oib-late-foreign') }).toEqual({ pdf: 0, foreign: 1 });
    expect(await personRows(late, 'DiagnosticReport')).toBe(0);
    expect(await personRows(late, 'DocumentReference')).toBe(0);
    expect(await discardedBinaries()).toBe(discardedBefore + 1);
  });
});
