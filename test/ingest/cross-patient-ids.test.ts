import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { receiveHl7 } from '../../src/ingest/hl7v2-pipeline.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken } from '../support/tokens.ts';

const CCDA = resolve(process.cwd(), '../shared/corpora/ccda');
const FILE = 'chb-sample-ccdas/allscripts_mu2_InPt_Discharge_Summary.xml';
const hasCorpus = existsSync(join(CCDA, FILE));
const MRN = '110107073916280';

/**
 * The same vendor sample sent for another patient: new ClinicalDocument/id, MRN, family name and birth date (so the
 * MPI keeps the two apart), while every entry keeps its CDA id, as senders that copy sample ids do.
 */
function forOtherPatient(xml: string): string {
  return xml
    .replace(/<id\s[^>]*?\/?>(<\/id>)?/, '<id root="2.25.4242" extension="other-patient-doc"/>')
    .replace(`extension="${MRN}"`, 'extension="990001"')
    .replace(/<family>[^<]*<\/family>/g, '<family>Quintero</family>')
    .replace(/(<patient>[\s\S]*?<birthTime value=")\d+"/, '$119880214"');
}

/** Every `Type/id` reference in a resource. */
function referencesIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => referencesIn(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string' && /^[A-Z][A-Za-z]+\/[^/?]+$/.test(v)) out.push(v);
      else referencesIn(v, out);
    }
  }
  return out;
}

describe.skipIf(!hasCorpus).each(await databaseKinds())('C-CDA ids copied into documents about different patients (%s)', (kind) => {
  let server: TestServer;
  let token: string;
  const post = (body: string) =>
    server.app.inject({ method: 'POST', url: '/ccda', payload: body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/xml' } });
  const patientId = async (mrn: string) =>
    (await run<{ id: string }>(server.services.db, sql`select id from resources where resource_type = 'Patient' and not deleted and content::text like ${`%"${mrn}"%`}`)).map((r) => r.id);
  const conditionsOf = (patient: string) =>
    server.services.gate.run(systemContext('test'), { action: 'search' }, async (scope) =>
      (await scope.searchType('Condition', [['patient', `Patient/${patient}`], ['_count', '1000']], false)).matches);

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      server.services.records.create(scope, { resourceType: 'Organization', name: 'Sample-copying Hospital', identifier: [{ system: 'urn:test', value: 'H3' }] }));
    token = await systemClientToken(server, `ccda-copier-${kind}`, org.resource.id!);
  }, 240_000);
  afterAll(async () => server?.stop(), 60_000);

  it('each patient keeps its own items, and no resource of the second patient references the first one\'s', async () => {
    const xml = readFileSync(join(CCDA, FILE), 'utf8');
    const first = await post(xml);
    expect(first.statusCode, first.body).toBe(201);
    const second = await post(forOtherPatient(xml));
    expect(second.statusCode, second.body).toBe(201);

    const [a] = await patientId(MRN);
    const [b] = await patientId('990001');
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(b).not.toBe(a);

    const ofA = await conditionsOf(a);
    const ofB = await conditionsOf(b);
    expect(ofA.length).toBeGreaterThan(0);
    expect(ofB.length).toBe(ofA.length);
    expect(ofB.map((c) => c.id).filter((id) => ofA.some((x) => x.id === id))).toEqual([]);

    const rows = await run<{ resource_type: string; id: string; patient_id: string | null; content: Resource }>(server.services.db,
      sql`select resource_type, id, patient_id, content from resources where not deleted`);
    const compartment = new Map(rows.map((r) => [`${r.resource_type}/${r.id}`, r.patient_id]));
    const ofBReferencingA = rows
      .filter((r) => r.patient_id === b)
      .flatMap((r) => referencesIn(r.content).filter((ref) => ref !== `Patient/${b}` && compartment.get(ref) === a).map((ref) => `${r.resource_type}/${r.id} → ${ref}`));
    expect(ofBReferencingA).toEqual([]);
  }, 240_000);
});

/** Placer numbers a facility reuses for different patients (a counter reset, a test system): RDE orders, then a dispense. */
describe.each(await databaseKinds())('HL7 v2 placer numbers reused for different patients (%s)', (kind) => {
  let server: TestServer;
  const msh = (type: string, control: string) => `MSH|^~\\&|APP|REUSEMC|KAT|HIE|20260115120000-0500||${type}|${control}|P|2.5.1`;
  const pid = (mrn: string, family: string, born: string) => `PID|1||${mrn}^^^REUSEMC^MR||${family}^ANN||${born}|F`;
  const A = pid('RA1', 'ALVAREZ', '19700101');
  const B = pid('RB2', 'BRENNAN', '19920707');
  const send = async (lines: string[]) => {
    const out = await receiveHl7(server.services, lines.join('\r'), 'import');
    expect(out.status, out.ack).toBe('processed');
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
  }, 240_000);
  afterAll(async () => server?.stop(), 60_000);

  it('each patient keeps its own order, and a dispense for the second patient points at that patient\'s order', async () => {
    await send([msh('RDE^O11^RDE_O11', 'R1'), A, 'ORC|NW|ORD9^EPIC', 'RXE||197361^Amlodipine^RXNORM|5||mg']);
    await send([msh('RDE^O11^RDE_O11', 'R2'), B, 'ORC|NW|ORD9^EPIC', 'RXE||310798^Hydrochlorothiazide^RXNORM|25||mg']);
    await send([msh('RDS^O13^RDS_O13', 'R3'), B, 'ORC|RE|ORD9^EPIC', 'RXD|1|310798^Hydrochlorothiazide^RXNORM|20260116|30|TAB']);

    const rows = await run<{ resource_type: string; id: string; patient_id: string | null; content: Resource }>(server.services.db,
      sql`select resource_type, id, patient_id, content from resources where not deleted and resource_type in ('Patient', 'MedicationRequest', 'MedicationDispense')`);
    const patientOf = (mrn: string) => rows.find((r) => r.resource_type === 'Patient' && JSON.stringify(r.content).includes(`"${mrn}"`))!.id;
    const [a, b] = [patientOf('RA1'), patientOf('RB2')];
    const requests = rows.filter((r) => r.resource_type === 'MedicationRequest');
    expect(requests.map((r) => r.patient_id).sort()).toEqual([a, b].sort());
    const ofB = requests.find((r) => r.patient_id === b)!;
    expect(JSON.stringify(ofB.content)).toContain('310798');
    expect(JSON.stringify(requests.find((r) => r.patient_id === a)!.content)).toContain('197361');
    const dispense = rows.find((r) => r.resource_type === 'MedicationDispense')!;
    expect(dispense.patient_id).toBe(b);
    expect(referencesIn(dispense.content)).toContain(`MedicationRequest/${ofB.id}`);
  }, 240_000);
});
