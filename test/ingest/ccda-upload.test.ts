import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/access/context.ts';
import { detectKind, importAny } from '../../src/cli/import-files.ts';
import { EXPECTED } from '../../src/ingest/ccda/corpus-counts.ts';
import { errorQueue } from '../../src/ingest/inbox.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { adtA01, oruR01 } from '../../bench/ingest/messages.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';

const CCDA = resolve(process.cwd(), '../shared/corpora/ccda');
const hasCorpus = existsSync(join(CCDA, 'INDEX.csv'));
if (!hasCorpus) console.warn(`corpus ${CCDA} absent: skipping C-CDA upload tests`);

const DOCUMENTS = [
  'hl7-examples/documents/CCD_1.xml',
  'hl7-examples/documents/Referral_Note.xml',
  'onc-cures/gold/170.315_b1_toc_gold_sample2_v4.xml',
  'chb-sample-ccdas/allscripts_mu2_InPt_Discharge_Summary.xml',
];

async function counts(server: TestServer): Promise<Record<string, number>> {
  const rows = await run<{ t: string; n: number }>(server.services.db, sql`select resource_type as t, count(*)::int as n from resources group by 1`);
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}

describe('import file kind detection', () => {
  it('goes by extension, then by content', () => {
    expect(detectKind('a.hl7', '')).toBe('hl7v2');
    expect(detectKind('a.XML', '')).toBe('ccda');
    expect(detectKind('a.ndjson', '')).toBe('fhir');
    expect(detectKind('export.txt', '\uFEFF// comment\nMSH|^~\\&|A')).toBe('hl7v2');
    expect(detectKind('doc.dat', '  <?xml version="1.0"?><ClinicalDocument/>')).toBe('ccda');
    expect(detectKind('x', '{"resourceType":"Patient"}')).toBe('fhir');
  });
});

describe.skipIf(!hasCorpus).each(await databaseKinds())('C-CDA through POST /ccda and katahdin import (%s)', (kind) => {
  let server: TestServer;
  let token: string;
  let orgId: string;
  const post = (body: string, auth = token, type = 'application/xml') =>
    server.app.inject({ method: 'POST', url: '/ccda', payload: body, headers: { authorization: `Bearer ${auth}`, 'content-type': type } });

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'Sending Hospital', identifier: [{ system: 'urn:test', value: 'H1' }] }));
    orgId = org.resource.id!;
    token = await systemClientToken(server, `ccda-sender-${kind}`, orgId);
  }, 240_000);
  afterAll(async () => server?.stop(), 60_000);

  it.each(DOCUMENTS)('accepts %s with a count summary, keeping the original in the patient compartment', async (file) => {
    const res = await post(readFileSync(join(CCDA, file), 'utf8'));
    expect(res.statusCode, res.body).toBe(201);
    const outcome = res.json() as OperationOutcome;
    const perType = Object.fromEntries(outcome.issue.slice(1).map((i) => [i.expression?.[0], Number(i.diagnostics?.split(': ')[1])]));
    const expected = Object.fromEntries(Object.entries(EXPECTED[file]).filter(([k]) => /^[A-Z]/.test(k)));
    expect(perType).toEqual(expected);
    const docRef = String(res.headers.location);
    expect(docRef).toMatch(/^DocumentReference\//);
    const read = await server.app.inject({ method: 'GET', url: `/fhir/${docRef}`, headers: { authorization: `Bearer ${token}` } });
    expect(read.statusCode).toBe(200);
    const binaryId = String(read.json().content[0].attachment.url).split('/').pop();
    const [binary] = await run<{ patient_id: string | null; person_id: string | null }>(server.services.db, sql`select patient_id, person_id from resources where resource_type = 'Binary' and id = ${binaryId}`);
    expect(binary.patient_id).toBe(read.json().subject.reference.split('/')[1]);
    expect(binary.person_id).toBeTruthy();
  }, 180_000);

  it('acknowledges a resend of the same document without writing anything again', async () => {
    const xml = readFileSync(join(CCDA, DOCUMENTS[0]), 'utf8');
    const before = await counts(server);
    const again = await post(xml, token, 'text/xml');
    expect(again.statusCode).toBe(200);
    expect((again.json() as OperationOutcome).issue[0].diagnostics).toMatch(/accepted/);
    expect(await counts(server)).toEqual(before);
  }, 120_000);

  it('refuses a different document reusing an id the sender already sent (409), and applies nothing', async () => {
    const before = await counts(server);
    const res = await post(readFileSync(join(CCDA, 'hl7-examples/documents/Discharge_Summary.xml'), 'utf8'));
    expect(res.statusCode).toBe(409);
    expect((res.json() as OperationOutcome).issue[0].diagnostics).toMatch(/^duplicate-id/);
    expect(await counts(server)).toEqual(before);
  }, 120_000);

  it('refuses malformed XML with 400 and a section fragment with 422, and queues both as rejected', async () => {
    const malformed = await post('<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.3"></ClinicalDocument>');
    expect(malformed.statusCode).toBe(400);
    expect((malformed.json() as OperationOutcome).issue[0].diagnostics).toMatch(/^malformed-xml/);
    const fragment = await post(readFileSync(join(CCDA, 'hl7-examples/sections/allergy_drug_penicillin.xml'), 'utf8'));
    expect(fragment.statusCode).toBe(422);
    expect((fragment.json() as OperationOutcome).issue[0].diagnostics).toMatch(/^section-fragment/);
    const queue = await errorQueue(server.services.db);
    expect(queue.filter((q) => q.channel === 'ccda' && q.status === 'rejected').map((q) => q.reason?.split(' ')[0]).sort()).toEqual(['duplicate-id', 'malformed-xml', 'section-fragment']);
  }, 120_000);

  it('accepts only system clients', async () => {
    const clinician = await userWithToken(server, { username: `ccda-clin-${kind}`, role: 'clinician', organizationId: orgId });
    expect((await post(readFileSync(join(CCDA, DOCUMENTS[0]), 'utf8'), clinician)).statusCode).toBe(403);
  }, 120_000);

  it('imports HL7 v2 batch files and C-CDA documents through the same pipeline (katahdin import)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'katahdin-import-'));
    const hl7 = join(dir, 'feed.hl7');
    await writeFile(hl7, [adtA01('IMP-1', 'IMPMRN1', 'IMPORT'), oruR01('IMP-2', 'IMPMRN1', 'IMPORT')].join('\n').replace(/\r/g, '\n'));
    const results = [await importAny(server.services, hl7), await importAny(server.services, join(CCDA, DOCUMENTS[1]), orgId), await importAny(server.services, join(dir, 'missing.xml'))];
    expect(results.map((r) => [r.ok, r.messages ?? r.message])).toEqual([[true, 2], [true, 'already imported'], [false, 'file not found']]);
    const bad = join(dir, 'bad.hl7');
    await writeFile(bad, 'MSH|^~\\&|EHR|KTEST|K|H|20260101||ADT^A01|IMP-3|P|2.5.1\nPID|1||||NOID');
    const refused = await importAny(server.services, bad);
    expect(refused.ok).toBe(false);
    expect(refused.message).toMatch(/1 error; message 1: .*PID-3/);
  }, 180_000);
});
