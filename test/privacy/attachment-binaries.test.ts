/**
 * privacy-rules §4 for the forms an attachment names its Binary by, and for Media. A versioned URL
 * (`Binary/1/_history/2`, and the same under this server's FHIR base) names Binary 1 like `Binary/1`: a labelled
 * document or report passes its labels to that Binary when the Binary was stored earlier, when it is written later
 * (found through the `resources_binaries_named` index), in the same bundle, when both join a person late, and by
 * `katahdin privacy relabel`; a C-CDA Binary named so labels the document. A Media's `content` names its Binary as a
 * document's attachment does, and a Media takes labels from its reasonCode (value sets) and its basedOn (propagation);
 * its encounter and partOf carry none, as an Observation's do not. The owner rule holds throughout: another person's
 * Binary, another sender's loose one and another server's `…/Binary/id/_history/n` are never labelled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { relabelAll } from '../../src/privacy-ops/relabel.ts';
import { loadValueSets } from '../../src/privacy/labels/value-sets.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { facilityOrganization, fhir } from './support.ts';

const kinds = await databaseKinds();
/** Own mental-health code (ICD-10-CM F32.9): labels what carries it PSY; a PDF or an image says nothing a classifier reads. */
const DEPRESSION = { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'F32.9', display: 'Major depressive disorder' }] };
/** An HIV antibody/antigen test (LOINC 75622-1): an order for it is labelled HIV. */
const HIV_TEST = { coding: [{ system: 'http://loinc.org', code: '75622-1' }] };
const CCDA_HIV = '<observation><value xsi:type="CD" code="B20" codeSystem="2.16.840.1.113883.6.90" displayName="HIV disease"/></observation>';

describe.each(kinds)('attachments naming a Binary by a versioned URL, and Media, on %s', (kind) => {
  let server: TestServer;
  let base = '';
  let feed = '';
  let otherFeed = '';
  let doctor = '';
  const patients = { ann: 'ab-ann', bob: 'ab-bob' };

  const put = async (token: string, body: Resource & { id: string }, expected = 201) => {
    const res = await fhir(server, token, 'PUT', `/fhir/${body.resourceType}/${body.id}`, body);
    if (res.status !== expected) throw new Error(`put ${body.resourceType}/${body.id}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as Resource;
  };
  /** A PDF about `owner` (its security context), or about no one. */
  const pdf = (token: string, id: string, owner: string | undefined) => put(token, {
    resourceType: 'Binary', id, contentType: 'application/pdf', data: Buffer.from(`%PDF-1.4 ${id}`).toString('base64'),
    ...(owner ? { securityContext: { reference: `Patient/${owner}` } } : {}),
  } as Resource & { id: string });
  /** A DocumentReference about `subject` presenting `url`, labelled PSY by its own code unless `labelled` is false. */
  const documentReference = (token: string, id: string, subject: string, url: string, labelled = true) => put(token, {
    resourceType: 'DocumentReference', id, status: 'current', subject: { reference: `Patient/${subject}` },
    ...(labelled ? { category: [DEPRESSION] } : {}), content: [{ attachment: { contentType: url.includes('ccda') ? 'application/xml' : 'application/pdf', url } }],
  } as Resource & { id: string });
  /** A Media about `subject` whose content is `url`; `extra` gives it its reasonCode or references. */
  const media = (token: string, id: string, subject: string, url: string, extra: Record<string, unknown> = {}) => put(token, {
    resourceType: 'Media', id, status: 'completed', subject: { reference: `Patient/${subject}` },
    content: { contentType: 'image/jpeg', url }, ...extra,
  } as Resource & { id: string });
  const row = async (type: string, id: string) => (await server.services.db.query<{ security: string[]; meta: string[] | null; person_id: string | null }>(
    `select security, (select array_agg(s->>'code') from jsonb_array_elements(content->'meta'->'security') s) as meta, person_id
     from resources where resource_type = $1 and id = $2`, [type, id])).rows[0];
  /** Stored labels of a row: the column, and meta.security of its content (both must hold them). */
  const labels = async (type: string, id: string) => {
    const r = await row(type, id);
    return { column: r.security, meta: r.meta ?? [] };
  };
  const PSY = { column: ['PSY'], meta: ['PSY'] };
  const HIV = { column: ['HIV'], meta: ['HIV'] };
  const NONE = { column: [], meta: [] };
  const read = async (type: string, id: string) => (await fhir(server, doctor, 'GET', `/fhir/${type}/${id}`)).status;
  /** As stored before a rule gave it its labels: none in the column, meta.security or the current history row. */
  const forget = async (type: string, id: string) => {
    await server.services.db.query(`update resources set security = '{}', content = content #- '{meta,security}' where resource_type = $1 and id = $2`, [type, id]);
    await server.services.db.query(`update resource_history set security = '{}', content = content #- '{meta,security}' where resource_type = $1 and id = $2`, [type, id]);
  };
  const patient = (id: string, system: string, who: { family: string; given: string; ssn: string; birthDate: string }) => ({
    resourceType: 'Patient', id, identifier: [{ system, value: id }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: who.ssn }],
    name: [{ family: who.family, given: [who.given] }], gender: 'female', birthDate: who.birthDate,
    address: [{ line: ['9 Birch Rd'], city: 'Orono', state: 'ME', postalCode: '04473' }],
  }) as Resource & { id: string };

  beforeAll(async () => {
    server = await startTestServer(kind);
    base = server.services.fhirBase;
    const org = await facilityOrganization(server, 'AB1');
    const other = await facilityOrganization(server, 'AB2');
    feed = await systemClientToken(server, 'ab1-ehr', org);
    otherFeed = await systemClientToken(server, 'ab2-ehr', other);
    doctor = await userWithToken(server, { username: 'ab-dr', role: 'clinician', organizationId: org });
    await put(feed, patient(patients.ann, 'urn:katahdin:id:AB1', { family: 'Attach', given: 'Ann', ssn: '432-10-1111', birthDate: '1977-04-05' }));
    await put(otherFeed, patient(patients.bob, 'urn:katahdin:id:AB2', { family: 'Bystander', given: 'Bob', ssn: '432-10-2222', birthDate: '1985-06-07' }));
    const when = new Date(Date.now() - 86_400_000).toISOString();
    await put(feed, { resourceType: 'Encounter', id: 'ab-visit', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${patients.ann}` }, period: { start: when, end: when } } as Resource & { id: string });
  }, 300_000);
  afterAll(async () => server?.stop());

  describe('a versioned attachment URL names the Binary', () => {
    it('a Binary stored first gains the labels of a document naming it `Binary/id/_history/n`', async () => {
      await pdf(feed, 'v-before', patients.ann);
      await documentReference(feed, 'v-before-doc', patients.ann, 'Binary/v-before/_history/1');
      expect(await labels('Binary', 'v-before')).toEqual(PSY);
      expect(await read('Binary', 'v-before')).toBe(403);
    });

    it('a Binary written after a report presenting it by this server\'s versioned absolute URL is stored labelled', async () => {
      await put(feed, {
        resourceType: 'DiagnosticReport', id: 'v-after-report', status: 'final', code: { text: 'Psychiatric evaluation' }, conclusionCode: [DEPRESSION],
        subject: { reference: `Patient/${patients.ann}` }, presentedForm: [{ contentType: 'application/pdf', url: `${base}/Binary/v-after/_history/1` }],
      } as Resource & { id: string });
      const written = await pdf(feed, 'v-after', patients.ann);
      expect(written.meta?.security?.map((c) => c.code)).toEqual(['PSY']);
      expect(await labels('Binary', 'v-after')).toEqual(PSY);
      expect(await read('Binary', 'v-after')).toBe(403);
    });

    it('both in one transaction bundle', async () => {
      const res = await fhir(server, feed, 'POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry: [
        { resource: { resourceType: 'Binary', id: 'v-bundled', contentType: 'application/pdf', securityContext: { reference: `Patient/${patients.ann}` }, data: Buffer.from('%PDF-1.4').toString('base64') }, request: { method: 'PUT', url: 'Binary/v-bundled' } },
        { resource: { resourceType: 'DocumentReference', status: 'current', subject: { reference: `Patient/${patients.ann}` }, category: [DEPRESSION], content: [{ attachment: { url: 'Binary/v-bundled/_history/1' } }] }, request: { method: 'POST', url: 'DocumentReference' } },
      ] } satisfies Bundle);
      expect(res.status).toBe(200);
      expect(await labels('Binary', 'v-bundled')).toEqual(PSY);
    });

    it('a document naming a stored C-CDA Binary by a versioned URL takes the Binary\'s labels', async () => {
      await put(feed, { resourceType: 'Binary', id: 'v-ccda', contentType: 'application/xml', securityContext: { reference: `Patient/${patients.ann}` }, data: Buffer.from(CCDA_HIV).toString('base64') } as Resource & { id: string });
      expect(await labels('Binary', 'v-ccda')).toEqual(HIV);
      await documentReference(feed, 'v-ccda-doc', patients.ann, `${base}/Binary/v-ccda/_history/1`, false);
      expect(await labels('DocumentReference', 'v-ccda-doc')).toEqual(HIV);
      expect(await read('DocumentReference', 'v-ccda-doc')).toBe(403);
    });

    it('another person\'s document, another sender\'s document naming a loose Binary, and another server\'s versioned URL label nothing, either order', async () => {
      await pdf(feed, 'v-ann-first', patients.ann);
      await documentReference(otherFeed, 'v-bob-doc-1', patients.bob, 'Binary/v-ann-first/_history/1');
      await documentReference(otherFeed, 'v-bob-doc-2', patients.bob, `${base}/Binary/v-ann-later/_history/1`);
      await pdf(feed, 'v-ann-later', patients.ann);
      await pdf(feed, 'v-loose', undefined);
      await documentReference(otherFeed, 'v-bob-doc-3', patients.bob, 'Binary/v-loose/_history/1');
      await pdf(feed, 'v-foreign', patients.ann);
      await documentReference(feed, 'v-foreign-doc-1', patients.ann, 'http://other.example.org/fhir/Binary/v-foreign/_history/1');
      await documentReference(feed, 'v-foreign-doc-2', patients.ann, 'http://other.example.org/fhir/Binary/v-foreign-later/_history/1');
      await pdf(feed, 'v-foreign-later', patients.ann);
      for (const id of ['v-ann-first', 'v-ann-later', 'v-loose', 'v-foreign', 'v-foreign-later']) expect([id, await labels('Binary', id)]).toEqual([id, NONE]);
      expect(await read('Binary', 'v-ann-first')).toBe(200);
    });

    it('a document and its Binary stored before their Patient was known pass labels when the Patient arrives', async () => {
      await documentReference(feed, 'v-late-doc', 'ab-late', `${base}/Binary/v-late/_history/1`);
      await pdf(otherFeed, 'v-late', 'ab-late');
      expect(await labels('Binary', 'v-late')).toEqual(NONE);
      await put(feed, patient('ab-late', 'urn:katahdin:id:AB1', { family: 'Tardy', given: 'Tess', ssn: '432-10-3333', birthDate: '1969-08-09' }));
      expect((await row('Binary', 'v-late')).person_id).toBeTruthy();
      expect(await labels('Binary', 'v-late')).toEqual(PSY);
    });

    it('relabel labels a Binary stored unlabelled behind a versioned URL, and still no other person\'s', async () => {
      await pdf(feed, 'v-legacy', patients.ann);
      await documentReference(feed, 'v-legacy-doc', patients.ann, `${base}/Binary/v-legacy/_history/1`);
      await forget('Binary', 'v-legacy');
      expect(await read('Binary', 'v-legacy')).toBe(200);
      const report = await relabelAll(server.services.db, loadValueSets(), base);
      expect(report.added.PSY).toBe(1);
      expect(await labels('Binary', 'v-legacy')).toEqual(PSY);
      expect(await read('Binary', 'v-legacy')).toBe(403);
      for (const id of ['v-ann-first', 'v-ann-later', 'v-loose', 'v-foreign', 'v-foreign-later']) expect([id, await labels('Binary', id)]).toEqual([id, NONE]);
    });
  });

  describe('Media', () => {
    it('a Media labelled by its reasonCode passes the label to its stored content Binary; both are withheld', async () => {
      await pdf(feed, 'm-before', patients.ann);
      await media(feed, 'm-before-media', patients.ann, 'Binary/m-before', { reasonCode: [DEPRESSION] });
      expect(await labels('Media', 'm-before-media')).toEqual(PSY);
      expect(await labels('Binary', 'm-before')).toEqual(PSY);
      expect(await read('Media', 'm-before-media')).toBe(403);
      expect(await read('Binary', 'm-before')).toBe(403);
    });

    it('a Binary written after the labelled Media naming it (versioned) is stored labelled', async () => {
      await media(feed, 'm-after-media', patients.ann, `${base}/Binary/m-after/_history/1`, { reasonCode: [DEPRESSION] });
      await pdf(feed, 'm-after', patients.ann);
      expect(await labels('Binary', 'm-after')).toEqual(PSY);
      expect(await read('Binary', 'm-after')).toBe(403);
    });

    it('basedOn a labelled order labels the Media and its Binary; encounter and partOf of labelled resources do not', async () => {
      const subject = { reference: `Patient/${patients.ann}` };
      await put(feed, { resourceType: 'ServiceRequest', id: 'm-hiv-order', status: 'active', intent: 'order', subject, code: HIV_TEST } as Resource & { id: string });
      await put(feed, { resourceType: 'Encounter', id: 'm-psy-visit', status: 'finished', class: { code: 'AMB' }, subject, reasonCode: [DEPRESSION], period: { start: new Date(Date.now() - 86_400_000).toISOString() } } as Resource & { id: string });
      await put(feed, { resourceType: 'Procedure', id: 'm-psy-procedure', status: 'completed', subject, code: { text: 'psychotherapy' }, reasonCode: [DEPRESSION] } as Resource & { id: string });
      expect([await labels('ServiceRequest', 'm-hiv-order'), await labels('Encounter', 'm-psy-visit'), await labels('Procedure', 'm-psy-procedure')]).toEqual([HIV, PSY, PSY]);
      await pdf(feed, 'm-ordered', patients.ann);
      await media(feed, 'm-ordered-media', patients.ann, 'Binary/m-ordered', { basedOn: [{ reference: 'ServiceRequest/m-hiv-order' }] });
      expect([await labels('Media', 'm-ordered-media'), await labels('Binary', 'm-ordered')]).toEqual([HIV, HIV]);
      await pdf(feed, 'm-in-visit', patients.ann);
      await media(feed, 'm-in-visit-media', patients.ann, 'Binary/m-in-visit', { encounter: { reference: 'Encounter/m-psy-visit' }, partOf: [{ reference: 'Procedure/m-psy-procedure' }] });
      expect([await labels('Media', 'm-in-visit-media'), await labels('Binary', 'm-in-visit')]).toEqual([NONE, NONE]);
      expect([await read('Media', 'm-ordered-media'), await read('Media', 'm-in-visit-media'), await read('Binary', 'm-in-visit')]).toEqual([403, 200, 200]);
    });

    it('another person\'s labelled Media labels nothing of Ann\'s; a Media and its Binary stored before their Patient pass labels when it arrives', async () => {
      await pdf(feed, 'm-ann', patients.ann);
      await media(otherFeed, 'm-bob-media', patients.bob, 'Binary/m-ann', { reasonCode: [DEPRESSION] });
      expect(await labels('Binary', 'm-ann')).toEqual(NONE);
      await media(feed, 'm-late-media', 'ab-late-m', 'Binary/m-late', { reasonCode: [DEPRESSION] });
      await pdf(otherFeed, 'm-late', 'ab-late-m');
      expect(await labels('Binary', 'm-late')).toEqual(NONE);
      await put(feed, patient('ab-late-m', 'urn:katahdin:id:AB1', { family: 'Laggard', given: 'Lia', ssn: '432-10-4444', birthDate: '1972-10-11' }));
      expect(await labels('Binary', 'm-late')).toEqual(PSY);
    });

    it('relabel labels a Media\'s Binary stored unlabelled', async () => {
      await pdf(feed, 'm-legacy', patients.ann);
      await media(feed, 'm-legacy-media', patients.ann, 'Binary/m-legacy', { reasonCode: [DEPRESSION] });
      await forget('Binary', 'm-legacy');
      expect(await read('Binary', 'm-legacy')).toBe(200);
      await relabelAll(server.services.db, loadValueSets(), base);
      expect(await labels('Binary', 'm-legacy')).toEqual(PSY);
      expect(await labels('Binary', 'm-ann')).toEqual(NONE);
      expect(await read('Binary', 'm-legacy')).toBe(403);
    });
  });
});
