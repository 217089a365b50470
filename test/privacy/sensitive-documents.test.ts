/**
 * privacy-rules §4 for the third category and for documents: substance use disorder (ETH, 42 CFR Part 2) is labelled
 * on arrival and withheld like mental health and HIV; a document whose section holds sensitive information (a
 * Composition listing an SUD diagnosis, a DocumentReference carrying a C-CDA with an HIV code) is labelled and
 * withheld whole — by read, search and $everything, with counts that show no trace of it — until the patient shares
 * the category or a clinician breaks the glass. A C-CDA held in a Binary (how the C-CDA upload stores the original, or
 * posted over FHIR) labels the Binary and the DocumentReference pointing at it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CCDA_DIR, hasCcdaCorpus } from '../../src/ingest/ccda/test-corpus.ts';
import { ACT_CODE_SYSTEM } from '../../src/privacy/labels/value-set-types.ts';
import { databaseKinds } from '../support/databases.ts';
import { outcomeCode } from '../support/leak-oracle.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { asBundle, consent, facilityOrganization, fhir } from './support.ts';

const kinds = await databaseKinds();
const SUD = { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'F10.20', display: 'Alcohol dependence, uncomplicated' };
const CCDA_WITH_HIV = `<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><component><structuredBody>
<component><section><code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/><title>Problems</title>
<entry><observation classCode="OBS" moodCode="EVN"><value xsi:type="CD" code="B20" codeSystem="2.16.840.1.113883.6.90" displayName="HIV disease"/></observation></entry>
</section></component></structuredBody></component></ClinicalDocument>`;
/** What must never appear in an answer that withholds these resources. */
const SECRETS = /F10\.20|Alcohol|B20|HIV disease|"ETH"|"HIV"/;

describe.each(kinds)('substance use and sensitive documents on %s', (kind) => {
  let server: TestServer;
  let patient = '';
  let doctor = '';
  let emergency = '';
  let registrar = '';
  let feed = '';
  const ids = { sud: '', composition: '', ccdaDoc: '', plainDoc: '', plainObs: '' };

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await facilityOrganization(server, 'SD');
    const other = await facilityOrganization(server, 'SE');
    feed = await systemClientToken(server, 'sd-ehr', org);
    const create = async (body: Resource) => {
      const res = await fhir(server, feed, 'POST', `/fhir/${body.resourceType}`, body);
      if (res.status !== 201) throw new Error(`create ${body.resourceType}: ${res.status} ${JSON.stringify(res.body)}`);
      return (res.body as Resource).id!;
    };
    patient = await create({ resourceType: 'Patient', identifier: [{ system: 'urn:katahdin:id:SD', value: 'SD-1' }], name: [{ family: 'Docket', given: ['Dana'] }], gender: 'female', birthDate: '1977-07-17' });
    const subject = { reference: `Patient/${patient}` };
    const when = new Date(Date.now() - 3 * 86_400_000).toISOString();
    await create({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject, period: { start: when, end: when } } as Resource);
    ids.sud = await create({ resourceType: 'Condition', subject, code: { coding: [SUD] }, recordedDate: when } as Resource);
    ids.plainObs = await create({ resourceType: 'Observation', status: 'final', subject, code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] }, effectiveDateTime: when, valueQuantity: { value: 72, unit: '/min' } } as Resource);
    ids.composition = await create({
      resourceType: 'Composition', status: 'final', subject, date: when, title: 'Visit summary', author: [{ reference: `Organization/${org}` }],
      type: { coding: [{ system: 'http://loinc.org', code: '34133-9', display: 'Summary of episode note' }] },
      section: [
        { title: 'Problems', code: { coding: [{ system: 'http://loinc.org', code: '11450-4' }] }, entry: [{ reference: `Condition/${ids.sud}` }] },
        { title: 'Vital signs', code: { coding: [{ system: 'http://loinc.org', code: '8716-3' }] }, entry: [{ reference: `Observation/${ids.plainObs}` }] },
      ],
    } as Resource);
    ids.ccdaDoc = await create({
      resourceType: 'DocumentReference', status: 'current', subject, date: when,
      content: [{ attachment: { contentType: 'application/xml', title: 'Referral summary', data: Buffer.from(CCDA_WITH_HIV).toString('base64') } }],
    } as Resource);
    ids.plainDoc = await create({
      resourceType: 'DocumentReference', status: 'current', subject, date: when,
      content: [{ attachment: { contentType: 'text/plain', title: 'Discharge instructions', data: Buffer.from('rest and fluids').toString('base64') } }],
    } as Resource);
    doctor = await userWithToken(server, { username: 'sd-dr', role: 'clinician', organizationId: org });
    emergency = await userWithToken(server, { username: 'sd-er', role: 'clinician', organizationId: other });
    registrar = await userWithToken(server, { username: 'sd-reg', role: 'registrar', organizationId: org });
  }, 300_000);
  afterAll(async () => server?.stop());

  const keys = (b: Bundle) => (b.entry ?? []).filter((e) => (e.search?.mode ?? 'match') === 'match').map((e) => `${e.resource?.resourceType}/${e.resource?.id}`).sort();
  /** Everything one clinician sees of the person, by every path, with the totals the answers state. */
  async function view(token: string, related = true) {
    const get = (url: string) => fhir(server, token, 'GET', url);
    const reads: Record<string, number> = {};
    for (const [name, key] of [['sud', `Condition/${ids.sud}`], ['composition', `Composition/${ids.composition}`], ['ccdaDoc', `DocumentReference/${ids.ccdaDoc}`]]) {
      const res = await get(`/fhir/${key}`);
      reads[name] = res.status;
      if (res.status !== 200) {
        expect((res.body as Resource).resourceType).toBe('OperationOutcome');
        // With a relationship, a withheld resource must not be explained as a missing one (nor as anything else).
        expect(outcomeCode(res.body as never)).toBe(related ? undefined : 'no-care-relationship');
        expect(JSON.stringify(res.body)).not.toMatch(SECRETS);
      }
    }
    const searches: Record<string, { keys: string[]; total?: number; count?: number }> = {};
    for (const type of ['Condition', 'Composition', 'DocumentReference']) {
      const b = asBundle(await get(`/fhir/${type}?patient=Patient/${patient}`));
      const c = asBundle(await get(`/fhir/${type}?patient=Patient/${patient}&_summary=count`));
      searches[type] = { keys: keys(b), total: b.total, count: c.total };
    }
    const everything = asBundle(await get(`/fhir/Patient/${patient}/$everything`));
    return { reads, searches, everything: keys(everything), everythingTotal: everything.total, text: JSON.stringify([searches, everything]) };
  }

  it('labels the SUD diagnosis ETH, the Composition listing it ETH and the C-CDA document HIV, in meta.security with the v3 ActCode system', async () => {
    const rows = await server.services.db.query<{ id: string; security: string[]; content: Resource }>('select id, security, content from resources where id = any($1::text[])', [Object.values(ids)]);
    const by = Object.fromEntries(rows.rows.map((r) => [r.id, r]));
    expect([ids.sud, ids.composition, ids.ccdaDoc, ids.plainDoc, ids.plainObs].map((id) => by[id].security.join(','))).toEqual(['ETH', 'ETH', 'HIV', '', '']);
    expect(by[ids.sud].content.meta?.security).toEqual([expect.objectContaining({ system: ACT_CODE_SYSTEM, code: 'ETH' })]);
    expect(by[ids.ccdaDoc].content.meta?.security).toEqual([expect.objectContaining({ system: ACT_CODE_SYSTEM, code: 'HIV' })]);
  });

  it('a treating clinician gets neither the SUD diagnosis nor either document, whole, and no count betrays them', async () => {
    const v = await view(doctor);
    expect(v.reads).toEqual({ sud: 403, composition: 403, ccdaDoc: 403 });
    expect(v.searches).toEqual({
      Condition: { keys: [], total: 0, count: 0 },
      Composition: { keys: [], total: 0, count: 0 },
      DocumentReference: { keys: [`DocumentReference/${ids.plainDoc}`], total: 1, count: 1 },
    });
    expect(v.everything).toContain(`Observation/${ids.plainObs}`);
    expect(v.everything).not.toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`${ids.sud}|${ids.composition}|${ids.ccdaDoc}`))]));
    expect(v.everythingTotal).toBe(v.everything.length);
    expect(v.text).not.toMatch(SECRETS);
  });

  it('once the patient shares substance use: the diagnosis and the Composition, whole; the HIV document still withheld', async () => {
    expect((await consent(server, registrar, patient, 'share', { category: 'ETH', channel: 'paper' })).status).toBe(200);
    const v = await view(doctor);
    expect(v.reads).toEqual({ sud: 200, composition: 200, ccdaDoc: 403 });
    const composition = (await fhir(server, doctor, 'GET', `/fhir/Composition/${ids.composition}`)).body as { section: Array<{ entry: Array<{ reference: string }> }> };
    expect(composition.section[0].entry).toEqual([{ reference: `Condition/${ids.sud}` }]);
    expect(v.searches.DocumentReference).toEqual({ keys: [`DocumentReference/${ids.plainDoc}`], total: 1, count: 1 });
    expect(v.everything).toEqual(expect.arrayContaining([`Condition/${ids.sud}`, `Composition/${ids.composition}`]));
    expect(v.everything).not.toContain(`DocumentReference/${ids.ccdaDoc}`);
  });

  it('break-the-glass shows every document, even without a care relationship', async () => {
    expect((await view(emergency, false)).reads).toEqual({ sud: 403, composition: 403, ccdaDoc: 403 });
    const btg = await fhir(server, emergency, 'POST', `/fhir/Patient/${patient}/$break-the-glass`, { resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: 'overdose suspected' }] });
    expect(btg.status).toBe(200);
    const v = await view(emergency, false);
    expect(v.reads).toEqual({ sud: 200, composition: 200, ccdaDoc: 200 });
    expect(v.searches.DocumentReference.keys).toEqual([`DocumentReference/${ids.ccdaDoc}`, `DocumentReference/${ids.plainDoc}`].sort());
    expect(v.searches.DocumentReference.total).toBe(2);
  });

  describe('a C-CDA held in a Binary', () => {
    const labels = async (type: string, id: string) =>
      (await server.services.db.query<{ security: string[] }>('select security from resources where resource_type = $1 and id = $2', [type, id])).rows[0]?.security;
    const text = (body: unknown) => Buffer.from((body as { data?: string }).data ?? '', 'base64').toString('utf8');

    it.skipIf(!hasCcdaCorpus)('an uploaded C-CDA with a mental-health finding: its Binary and DocumentReference are labelled PSY and withheld whole', async () => {
      const xml = readFileSync(join(CCDA_DIR, 'hl7-examples/documents/Consultation_Note.xml'), 'utf8');
      expect(xml).toContain('61372001');
      const up = await server.app.inject({ method: 'POST', url: '/ccda', headers: { authorization: `Bearer ${feed}`, 'content-type': 'application/xml' }, payload: xml });
      expect(up.statusCode).toBe(201);
      const docId = String(up.headers.location).replace('DocumentReference/', '');
      const doc = (await server.services.db.query<{ content: { subject: { reference: string }; content: Array<{ attachment: { url: string } }> } }>(
        `select content from resources where resource_type = 'DocumentReference' and id = $1`, [docId])).rows[0].content;
      const binaryId = doc.content[0].attachment.url.replace('Binary/', '');
      expect([await labels('Binary', binaryId), await labels('DocumentReference', docId)]).toEqual([['PSY'], ['PSY']]);
      // The document's patient, with a recent visit at the doctor's organization: a treating clinician without a share.
      const subject = doc.subject;
      await fhir(server, feed, 'POST', '/fhir/Encounter', { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject, period: { start: new Date(Date.now() - 86_400_000).toISOString() } });
      const [bin, ref] = [await fhir(server, doctor, 'GET', `/fhir/Binary/${binaryId}`), await fhir(server, doctor, 'GET', `/fhir/DocumentReference/${docId}`)];
      expect([bin.status, ref.status]).toEqual([403, 403]);
      expect(JSON.stringify([bin.body, ref.body])).not.toContain('61372001');
      const search = asBundle(await fhir(server, doctor, 'GET', `/fhir/DocumentReference?patient=${subject.reference}`));
      expect([search.total, (search.entry ?? []).length]).toEqual([0, 0]);
      // Break-the-glass opens the whole document, content included.
      const patientId = subject.reference.split('/')[1];
      expect((await fhir(server, emergency, 'POST', `/fhir/Patient/${patientId}/$break-the-glass`, { resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: 'agitated on arrival' }] })).status).toBe(200);
      const opened = await fhir(server, emergency, 'GET', `/fhir/Binary/${binaryId}`);
      expect(opened.status).toBe(200);
      expect(text(opened.body)).toContain('61372001');
      expect((await fhir(server, emergency, 'GET', `/fhir/DocumentReference/${docId}`)).status).toBe(200);
    });

    it('a Binary posted over FHIR holding a C-CDA with an HIV code is labelled HIV, so is a DocumentReference pointing at it', async () => {
      const subject = { reference: `Patient/${patient}` };
      const bin = await fhir(server, feed, 'POST', '/fhir/Binary', { resourceType: 'Binary', contentType: 'application/xml', securityContext: subject, data: Buffer.from(CCDA_WITH_HIV).toString('base64') });
      expect(bin.status).toBe(201);
      const binaryId = (bin.body as Resource).id!;
      const ref = await fhir(server, feed, 'POST', '/fhir/DocumentReference', {
        resourceType: 'DocumentReference', status: 'current', subject,
        content: [{ attachment: { contentType: 'application/xml', title: 'Outside records', url: `Binary/${binaryId}` } }],
      });
      expect(ref.status).toBe(201);
      const docId = (ref.body as Resource).id!;
      expect([await labels('Binary', binaryId), await labels('DocumentReference', docId)]).toEqual([['HIV'], ['HIV']]);
      // The doctor treats the person and has their substance-use share, not HIV.
      const reads = [await fhir(server, doctor, 'GET', `/fhir/Binary/${binaryId}`), await fhir(server, doctor, 'GET', `/fhir/DocumentReference/${docId}`)];
      expect(reads.map((r) => r.status)).toEqual([403, 403]);
      expect(JSON.stringify(reads.map((r) => r.body))).not.toMatch(SECRETS);
      expect(keys(asBundle(await fhir(server, doctor, 'GET', `/fhir/DocumentReference?patient=Patient/${patient}`)))).toEqual([`DocumentReference/${ids.plainDoc}`]);
    });
  });
});
