/**
 * privacy-rules §4, the limit of a document's labels: a labelled document passes them to a Binary stored apart from it
 * only within one person's record, or to a Binary of no person its own sender stored. A sender cannot withhold another
 * person's content (nor another organization's loose Binary) by naming it from a labelled document — not when the
 * document arrives after the Binary, not when the Binary arrives after the document, and not by
 * `katahdin privacy relabel`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { relabelAll } from '../../src/privacy-ops/relabel.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { facilityOrganization, fhir } from './support.ts';

const kinds = await databaseKinds();
const DEPRESSION = { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'F32.9', display: 'Major depressive disorder' }] };

describe.each(kinds)('a labelled document labels only Binaries of its own person, on %s', (kind) => {
  let server: TestServer;
  let first = '';
  let second = '';
  let doctor = '';
  const patients = { ann: '', bob: '' };

  const create = async (token: string, body: Resource): Promise<string> => {
    const res = await fhir(server, token, 'POST', `/fhir/${body.resourceType}`, body);
    if (res.status !== 201) throw new Error(`create ${body.resourceType}: ${res.status} ${JSON.stringify(res.body)}`);
    return (res.body as Resource).id!;
  };
  /** A PDF with nothing a classifier reads, in a person's record or (`owner` undefined) in none. */
  const putBinary = async (token: string, id: string, owner?: string) => {
    const res = await fhir(server, token, 'PUT', `/fhir/Binary/${id}`, {
      resourceType: 'Binary', id, contentType: 'application/pdf', data: Buffer.from(`%PDF-1.4 ${id}`).toString('base64'),
      ...(owner ? { securityContext: { reference: `Patient/${owner}` } } : {}),
    });
    expect(res.status).toBe(201);
  };
  /** A DocumentReference about `subject` labelled PSY by its own code, presenting `Binary/binaryId`. */
  const labelledDocument = (token: string, subject: string, binaryId: string) => create(token, {
    resourceType: 'DocumentReference', status: 'current', subject: { reference: `Patient/${subject}` }, category: [DEPRESSION],
    content: [{ attachment: { contentType: 'application/pdf', url: `Binary/${binaryId}` } }],
  } as Resource);
  const labels = async (id: string) => (await server.services.db.query<{ security: string[] }>(
    `select security from resources where resource_type = 'Binary' and id = $1`, [id])).rows[0].security;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org1 = await facilityOrganization(server, 'OW1');
    const org2 = await facilityOrganization(server, 'OW2');
    first = await systemClientToken(server, 'ow1-ehr', org1);
    second = await systemClientToken(server, 'ow2-ehr', org2);
    doctor = await userWithToken(server, { username: 'ow-dr', role: 'clinician', organizationId: org1 });
    patients.ann = await create(first, { resourceType: 'Patient', identifier: [{ system: 'urn:katahdin:id:OW1', value: 'A-1' }], name: [{ family: 'Owner', given: ['Ann'] }], gender: 'female', birthDate: '1970-02-03' });
    patients.bob = await create(second, { resourceType: 'Patient', identifier: [{ system: 'urn:katahdin:id:OW2', value: 'B-1' }], name: [{ family: 'Stranger', given: ['Bob'] }], gender: 'male', birthDate: '1988-11-30' });
    const when = new Date(Date.now() - 86_400_000).toISOString();
    await create(first, { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${patients.ann}` }, period: { start: when, end: when } } as Resource);
  }, 300_000);
  afterAll(async () => server?.stop());

  it('a document of another person naming a stored Binary leaves it as it is; one of the same person labels it, whoever sent it', async () => {
    await putBinary(first, 'ann-report', patients.ann);
    await labelledDocument(second, patients.bob, 'ann-report');
    expect(await labels('ann-report')).toEqual([]);
    expect((await fhir(server, doctor, 'GET', '/fhir/Binary/ann-report')).status).toBe(200);
    await putBinary(first, 'ann-therapy', patients.ann);
    await labelledDocument(second, patients.ann, 'ann-therapy');
    expect(await labels('ann-therapy')).toEqual(['PSY']);
  });

  it('a Binary of no person is labelled by documents of its own sender only', async () => {
    await putBinary(first, 'loose-first', undefined);
    await labelledDocument(second, patients.bob, 'loose-first');
    expect(await labels('loose-first')).toEqual([]);
    await putBinary(first, 'loose-own', undefined);
    await labelledDocument(first, patients.ann, 'loose-own');
    expect(await labels('loose-own')).toEqual(['PSY']);
  });

  it('a Binary written after another person\'s labelled document naming it is stored without its labels', async () => {
    await labelledDocument(second, patients.bob, 'ann-later');
    await putBinary(first, 'ann-later', patients.ann);
    expect(await labels('ann-later')).toEqual([]);
    await labelledDocument(second, patients.bob, 'loose-later');
    await putBinary(first, 'loose-later', undefined);
    expect(await labels('loose-later')).toEqual([]);
  });

  it('relabel does not pass a document\'s labels to another person\'s Binary or another sender\'s loose one', async () => {
    await relabelAll(server.services.db);
    expect(await labels('ann-report')).toEqual([]);
    expect(await labels('loose-first')).toEqual([]);
    expect(await labels('ann-later')).toEqual([]);
    expect(await labels('loose-later')).toEqual([]);
    expect((await fhir(server, doctor, 'GET', '/fhir/Binary/ann-report')).status).toBe(200);
  });
});
