import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Condition, Identifier, Provenance } from '@medplum/fhirtypes';
import { systemContext, type AccessContext } from '../../src/access/context.ts';
import { QUERY_ROLE_SCOPE } from '../../src/access/scopes.ts';
import { HASH_SYSTEM, ingestCcda } from '../../src/ingest/ccda/index.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken } from '../support/tokens.ts';

const CCDA = resolve(process.cwd(), '../shared/corpora/ccda');
const hasCorpus = existsSync(join(CCDA, 'INDEX.csv'));

/**
 * Documents whose entries repeat one CDA id: CCD_1 gives four different immunizations one id; the Allscripts
 * discharge summary repeats an encounter and a problem id; kinsights_timmy gives ten different observations one id.
 */
const REUSED_IDS = [
  'hl7-examples/documents/CCD_1.xml',
  'chb-sample-ccdas/allscripts_mu2_InPt_Discharge_Summary.xml',
  'chb-sample-ccdas/kinsights_timmy.xml',
];
const CLINICAL = ['AllergyIntolerance', 'Condition', 'Encounter', 'Immunization', 'MedicationStatement', 'Observation', 'Procedure'];

/**
 * The document with a medical record number on its patient (CCD_1 and Referral_Note identify theirs by SSN only, which
 * the last suite below covers). Keys match only in the patient's own compartment, so the tests of reused ids give each
 * document's patient a record number of its own.
 */
function withMrn(xml: string, file: string): string {
  return xml.replace(/(<patientRole[^>]*>)/, `$1<id root="2.16.840.1.113883.19.5.4242" extension="mrn-${file}"/>`);
}

/** The same document under a new ClinicalDocument/id (a later document repeating every item), optionally for another patient. */
function later(xml: string, n: string, otherPatient = false): string {
  const renamed = xml.replace(/<id\s[^>]*?\/?>(<\/id>)?/, `<id root="2.25.4242" extension="reupload-${n}"/>`);
  return otherPatient ? renamed.replace(/(<patientRole[^>]*>\s*<id\s[^>]*?extension=")([^"]*)"/, (_m, head: string, ext: string) => `${head}${ext}-${n}"`) : renamed;
}

async function clinicalCounts(server: TestServer): Promise<Record<string, number>> {
  const rows = await run<{ t: string; n: number }>(server.services.db, sql`select resource_type as t, count(*)::int as n from resources where resource_type = any(${CLINICAL}) and not deleted group by 1`);
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}

describe.skipIf(!hasCorpus).each(await databaseKinds())('C-CDA documents whose entries repeat an id, uploaded again (%s)', (kind) => {
  let server: TestServer;
  let token: string;
  let orgId: string;
  const post = (body: string) =>
    server.app.inject({ method: 'POST', url: '/ccda', payload: body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/xml' } });

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'Re-sending Hospital', identifier: [{ system: 'urn:test', value: 'H2' }] }));
    orgId = org.resource.id!;
    token = await systemClientToken(server, `ccda-resender-${kind}`, orgId);
  }, 240_000);
  afterAll(async () => server?.stop(), 60_000);

  it.each(REUSED_IDS)('%s: a later document repeating its items is accepted and adds no clinical resource', async (file) => {
    const xml = withMrn(readFileSync(join(CCDA, file), 'utf8'), file);
    const first = await post(xml);
    expect(first.statusCode, first.body).toBe(201);
    const after = await clinicalCounts(server);
    const again = await post(later(xml, `${file}-again`));
    expect(again.statusCode, again.body).toBe(201);
    expect(await clinicalCounts(server)).toEqual(after);
  }, 240_000);

  it.each(REUSED_IDS)('%s: the same document for another patient from the same sender is accepted', async (file) => {
    const res = await post(later(withMrn(readFileSync(join(CCDA, file), 'utf8'), file), `${file}-other`, true));
    expect(res.statusCode, res.body).toBe(201);
  }, 240_000);

  it('several stored resources matching a key (written before this fix, or by racing uploads) do not reject a later document', async () => {
    const file = 'hl7-examples/documents/Referral_Note.xml';
    const xml = withMrn(readFileSync(join(CCDA, file), 'utf8'), file);
    const converted = ingestCcda(xml, { now: new Date().toISOString() });
    if (!converted.ok) throw new Error('corpus document not converted');
    const key = (converted.bundle.entry ?? []).map((e) => (e.resource as Condition).identifier?.[0]).find((i): i is Identifier => i?.system !== undefined && i.system !== HASH_SYSTEM && converted.bundle.entry!.some((e) => e.resource?.resourceType === 'Condition' && (e.resource as Condition).identifier?.[0] === i));
    expect(key).toBeDefined();
    expect((await post(xml)).statusCode).toBe(201);
    const conditions = () => run<{ id: string; content: Condition }>(server.services.db, sql`select id, content from resources where resource_type = 'Condition' and not deleted`);
    // Other documents of this suite carry the same HL7 sample id for other patients: the holder is this patient's.
    const [patient] = await run<{ id: string }>(server.services.db, sql`select id from resources where resource_type = 'Patient' and content::text like ${`%mrn-${file}%`}`);
    const holder = (await conditions()).find((r) => r.content.identifier?.[0]?.value === key!.value && r.content.subject?.reference === `Patient/${patient.id}`);
    expect(holder).toBeDefined();
    // What the earlier converter stored: another item that also carried the reused id, and a second copy under the key.
    const sender: AccessContext = { clientId: 'legacy', displayName: 'legacy writes', role: 'system', organizationId: orgId, scopes: ['system/*.cruds'], purposeOfUse: 'TREAT' };
    const copy = (identifier: Identifier[]): Condition => ({ ...holder!.content, id: undefined, meta: undefined, identifier });
    const extra = await server.services.gate.run(sender, { action: 'create' }, async (scope) => [
      (await server.services.records.create(scope, copy([{ system: HASH_SYSTEM, value: 'legacy-other-item' }, key!]))).resource.id,
      (await server.services.records.create(scope, copy([key!]))).resource.id,
    ]);
    const before = await clinicalCounts(server);
    const targets = async () => {
      const rows = await run<{ content: Provenance }>(server.services.db, sql`select content from resources where resource_type = 'Provenance'`);
      return rows.flatMap((p) => p.content.target.map((t) => t.reference));
    };
    const holderTargets = (await targets()).filter((t) => t === `Condition/${holder!.id}`).length;

    const again = await post(later(xml, 'legacy-duplicates'));
    expect(again.statusCode, again.body).toBe(201);
    expect(await clinicalCounts(server)).toEqual(before);
    // The later document's item resolved to the resource first stored under the key, not to the copies.
    const after = await targets();
    expect(after.filter((t) => t === `Condition/${holder!.id}`)).toHaveLength(holderTargets + 1);
    expect(after.filter((t) => extra.some((id) => t === `Condition/${id}`))).toEqual([]);
  }, 240_000);
});

describe.skipIf(!hasCorpus).each(await databaseKinds())('a C-CDA patient identified only by an SSN (%s)', (kind) => {
  let server: TestServer;
  const orgs: string[] = [];
  const tokens: string[] = [];
  const post = (token: string, body: string) =>
    server.app.inject({ method: 'POST', url: '/ccda', payload: body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/xml' } });
  const patients = () => run<{ id: string; source_org: string }>(server.services.db, sql`select id, source_org from resources where resource_type = 'Patient' and not deleted order by source_org, id`);

  beforeAll(async () => {
    server = await startTestServer(kind);
    const senders = [['SSN Hospital A', ['system/*.cruds']], ...['B', 'C', 'D'].map((h) => [`SSN Hospital ${h}`, ['system/*.cruds', QUERY_ROLE_SCOPE]])] as const;
    for (const [name, scopes] of senders) {
      const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
        server.services.records.create(scope, { resourceType: 'Organization', name, identifier: [{ system: 'urn:test', value: name }] }));
      orgs.push(org.resource.id!);
      tokens.push(await systemClientToken(server, `ssn-only-${orgs.length}-${kind}`, org.resource.id!, [...scopes]));
    }
  }, 240_000);
  afterAll(async () => server?.stop(), 60_000);

  it('is found again by the SSN among its sender\'s records: a later document adds no Patient and no item; another sender keeps its own', async () => {
    const xml = readFileSync(join(CCDA, 'hl7-examples/documents/CCD_1.xml'), 'utf8');
    expect((await post(tokens[0], xml)).statusCode).toBe(201);
    const first = await patients();
    expect(first).toHaveLength(1);
    const items = await clinicalCounts(server);
    const again = await post(tokens[0], later(xml, 'ssn-again'));
    expect(again.statusCode, again.body).toBe(201);
    expect(await patients()).toEqual(first);
    expect(await clinicalCounts(server)).toEqual(items);
    // Hospitals B, C and D may query other sources (they see every other sender's Patient), yet each document makes,
    // and each re-send finds, the sender's own source Patient: the lookup's limit of two rows never hides it.
    const other = await post(tokens[1], later(xml, 'ssn-other-sender'));
    expect(other.statusCode, other.body).toBe(201);
    for (const [i, token] of tokens.slice(1).entries()) {
      for (const round of ['first', 'again']) {
        const res = await post(token, later(xml, `ssn-${i}-${round}`));
        expect(res.statusCode, res.body).toBe(201);
      }
    }
    const all = await patients();
    expect(all.map((p) => p.source_org).sort()).toEqual([...orgs].sort());
    expect(all).toContainEqual(first[0]);
    // The number served as a key without being kept or echoed anywhere: answers, inbox outcomes, audit, index, log.
    const text = async (q: string) => (await server.services.db.query<{ t: string }>(q)).rows.map((r) => r.t).join('\n');
    const seen = [again.body, other.body, server.logs.join('\n'),
      await text('select concat_ws(\' \', ack, reason, error_location) as t from ingest_messages'), await text('select a::text as t from audit_log a'),
      await text('select s::text as t from search_token s'), await text('select content::text as t from resources union all select content::text from resource_history')].join('\n');
    for (const ssn of ['444222222', '444-22-2222']) expect(seen.includes(ssn), ssn).toBe(false);
  }, 240_000);
});
