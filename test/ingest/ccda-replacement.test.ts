import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/access/context.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken } from '../support/tokens.ts';

const CCD_1 = resolve(process.cwd(), '../shared/corpora/ccda/hl7-examples/documents/CCD_1.xml');
const hasCorpus = existsSync(CCD_1);
const CLINICAL = ['AllergyIntolerance', 'Condition', 'Encounter', 'Immunization', 'MedicationStatement', 'Observation', 'Procedure'];

/**
 * CCD_1 corrected: a new ClinicalDocument/id, the same setId with versionNumber 2 and relatedDocument RPLC naming the
 * original (TT988), the hemoglobin result (id 107c2dc0-…) changed from 13.2 to 11.9 g/dL.
 */
function replacement(xml: string): string {
  return xml
    .replace('<id extension="TT988" root="2.16.840.1.113883.19.5.99999.1" />', '<id extension="TT988-2" root="2.16.840.1.113883.19.5.99999.1" />')
    .replace('<versionNumber value="1" />', '<versionNumber value="2" />')
    .replace('</documentationOf>', `</documentationOf>
  <relatedDocument typeCode="RPLC"><parentDocument><id extension="TT988" root="2.16.840.1.113883.19.5.99999.1" />
    <setId extension="sTT988" root="2.16.840.1.113883.19.5.99999.19" /><versionNumber value="1" /></parentDocument></relatedDocument>`)
    .replace('<value xsi:type="PQ" value="13.2" unit="g/dL" />', '<value xsi:type="PQ" value="11.9" unit="g/dL" />');
}

describe.skipIf(!hasCorpus).each(await databaseKinds())('a replacement C-CDA document (relatedDocument RPLC) (%s)', (kind) => {
  let server: TestServer;
  let token: string;
  const post = (body: string) =>
    server.app.inject({ method: 'POST', url: '/ccda', payload: body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/xml' } });
  const stored = (type: string) =>
    run<{ content: Record<string, unknown> }>(server.services.db, sql`select content from resources where resource_type = ${type} and not deleted`).then((rows) => rows.map((r) => r.content));

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'Correcting Hospital', identifier: [{ system: 'urn:test', value: 'R1' }] }));
    token = await systemClientToken(server, `ccda-replacer-${kind}`, org.resource.id!);
  }, 240_000);
  afterAll(async () => server?.stop(), 60_000);

  it('CCD_1 then its correction: the corrected value replaces the stored one, nothing is duplicated, the original is superseded', async () => {
    const original = readFileSync(CCD_1, 'utf8');
    expect((await post(original)).statusCode).toBe(201);
    const countClinical = async () => Object.fromEntries(await Promise.all(CLINICAL.map(async (t) => [t, (await stored(t)).length])));
    const before = await countClinical();

    const res = await post(replacement(original));
    expect(res.statusCode, res.body).toBe(201);
    expect(await countClinical()).toEqual(before);

    const hemoglobin = (await stored('Observation')).filter((o) => JSON.stringify(o.code).includes('"718-7"'));
    expect(hemoglobin.map((o) => (o.valueQuantity as { value: number }).value)).toEqual([11.9]);

    const docs = await stored('DocumentReference');
    const status = (ext: string) => docs.find((d) => (d.masterIdentifier as { value: string }).value === ext)?.status;
    expect(status('TT988')).toBe('superseded');
    expect(status('TT988-2')).toBe('current');
  }, 240_000);
});
