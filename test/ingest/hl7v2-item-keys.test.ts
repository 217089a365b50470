import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { BundleEntry, Observation } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/access/context.ts';
import { FhirError } from '../../src/fhir/outcome.ts';
import { decodeHl7Bytes } from '../../src/ingest/hl7v2/decode.ts';
import { mapMessage } from '../../src/ingest/hl7v2/map/index.ts';
import { parseHl7 } from '../../src/ingest/hl7v2/parse.ts';
import { splitMessages } from '../../src/ingest/hl7v2/split-batch.ts';
import { receiveHl7 } from '../../src/ingest/hl7v2-pipeline.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const CORPUS = path.resolve(process.cwd(), '../shared/corpora/hl7v2');
const MSH = (type: string, control: string) => `MSH|^~\\&|LAB|KEYFAC|HIE|HIE|20260301090000-0500||${type}|${control}|P|2.5.1`;
const PID = 'PID|1||KMRN1^^^KEYFAC^MR||DOE^JANE||19700101|F';
const oru = (control: string, lastGlucose: string, status: string) => [
  MSH('ORU^R01^ORU_R01', control), PID, 'OBR|1|KP1|KF1|CBC^CBC^L',
  'OBX|1|NM|GLU^Glucose^L||100|mg/dL|70-99|H|||F',
  'OBX|2|ST|COMMENT^Comment^L||line one||||||F',
  'OBX|3|ST|COMMENT^Comment^L||line two||||||F',
  `OBX|4|NM|GLU^Glucose^L||${lastGlucose}|mg/dL|70-99|H|||${status}`,
].join('\r');

/** Several results or reports under one order number are each stored, and a corrected resend updates them in place. */
describe('HL7 v2 item keys: one stored resource per source item (pglite)', () => {
  let server: TestServer;
  const counts = async () => Object.fromEntries((await run<{ t: string; n: number }>(server.services.db,
    sql`select resource_type as t, count(*)::int as n from resources where not deleted group by 1`)).map((r) => [r.t, r.n]));
  const delta = (before: Record<string, number>, after: Record<string, number>, types: string[]) =>
    Object.fromEntries(types.map((t) => [t, (after[t] ?? 0) - (before[t] ?? 0)]));

  beforeAll(async () => {
    // Several corpus samples are marked training (T) or debugging (D) in MSH-11.
    server = await startTestServer('pglite', { hl7ProcessingIds: ['P', 'T', 'D'] });
  }, 240_000);
  afterAll(async () => server?.stop(), 60_000);

  it('stores two results and two comment lines with the same code as four Observations; a correction updates the one it corrects', async () => {
    const before = await counts();
    const first = await receiveHl7(server.services, oru('K1', '120', 'F'), 'mllp');
    expect(first.ack.split('\r')[1]).toMatch(/^MSA\|AA\|K1/);
    expect(delta(before, await counts(), ['DiagnosticReport', 'Observation'])).toEqual({ DiagnosticReport: 1, Observation: 4 });

    const corrected = await receiveHl7(server.services, oru('K2', '125', 'C'), 'mllp');
    expect(corrected.ack.split('\r')[1]).toMatch(/^MSA\|AA\|K2/);
    expect(delta(before, await counts(), ['DiagnosticReport', 'Observation'])).toEqual({ DiagnosticReport: 1, Observation: 4 });
    const obs = await run<{ content: Observation }>(server.services.db,
      sql`select content from resources where resource_type = 'Observation' and not deleted and content::text like '%KF1%'`);
    const glucose = obs.map((o) => o.content).filter((o) => o.code.coding?.[0].code === 'GLU').sort((a, b) => a.valueQuantity!.value! - b.valueQuantity!.value!);
    expect(glucose.map((o) => [o.valueQuantity?.value, o.status, o.meta?.versionId])).toEqual([[100, 'final', '2'], [125, 'corrected', '2']]);
    expect(obs.map((o) => o.content.valueString).filter(Boolean).sort()).toEqual(['line one', 'line two']);
  });

  // Before unique keys these stored 1 of 15 reports and 33 of 109 results (Natus_002), 1/15 and 34/95 (TN_001).
  it('stores both dispenses of RDS-O13-02 (two drugs under one order) once the order is known', async () => {
    // Both samples use control id MSG00001: the second would be answered as a replay of the first.
    const send = (file: string) => receiveHl7(server.services, splitMessages(decodeHl7Bytes(readFileSync(path.join(CORPUS, file))))[0].replace('|MSG00001|', `|${path.basename(file)}|`), 'mllp');
    expect((await send('ms-fhir-converter/RDE-O11-02.hl7')).ack.split('\r')[1]).toMatch(/^MSA\|AA\|/);
    const before = await counts();
    expect((await send('ms-fhir-converter/RDS-O13-02.hl7')).ack.split('\r')[1]).toMatch(/^MSA\|AA\|/);
    expect(delta(before, await counts(), ['MedicationDispense'])).toEqual({ MedicationDispense: 2 });
  });

  it.each([
    // Natus_002 has 109 OBX besides its ED: three comments of two FT lines are one Observation each.
    ['cdc-trusted-intermediary/Natus_002_Natus_ORU_R01_NBS.hl7', { DiagnosticReport: 15, Observation: 106 }],
    ['cdc-trusted-intermediary/TN_001_TN_ORU_R01_LRI.hl7', { DiagnosticReport: 15, Observation: 95 }],
    ['cdc-trusted-intermediary/TX_002_TX_ORU_R01.hl7', undefined],
    ['cdc-trusted-intermediary/MN_003_MN_ORM_O01_NBS.hl7', { ServiceRequest: 2 }],
    ['ms-fhir-converter/MDHHS-OML-O21-2.hl7', { ServiceRequest: 2 }],
  ] as const)('%s stores every entry of its bundle', async (file, expected) => {
    const [raw] = splitMessages(decodeHl7Bytes(readFileSync(path.join(CORPUS, file))));
    const parsed = parseHl7(raw);
    if (!parsed.ok) throw new Error('unparsed');
    const mapped = mapMessage(parsed.message, { now: new Date() });
    if (mapped.kind !== 'bundle') throw new Error('not mapped');
    const types = ['DiagnosticReport', 'Observation', 'DocumentReference', 'MedicationDispense', 'ServiceRequest'].filter((t) => mapped.summary.counts[t]);
    const before = await counts();
    const out = await receiveHl7(server.services, raw, 'mllp');
    expect(out.ack.split('\r')[1]).toMatch(/^MSA\|AA\|/);
    const stored = delta(before, await counts(), types);
    expect(stored).toEqual(Object.fromEntries(types.map((t) => [t, mapped.summary.counts[t]])));
    if (expected) expect(stored).toMatchObject(expected);
  }, 120_000);

  it('acknowledges an ADT with a malformed OBX AA plus an ERR of severity W, kept with the inbox row', async () => {
    const msg = [MSH('ADT^A08^ADT_A01', 'KW1'), 'EVN|A08', PID, 'PV1|1|O', 'OBX|1|NM|WT^Weight^L||heavy|kg'].join('\r');
    const out = await receiveHl7(server.services, msg, 'mllp');
    const [, msa, err] = out.ack.split('\r');
    expect(msa).toMatch(/^MSA\|AA\|KW1/);
    expect(err).toBe('ERR|OBX^1^5^102&OBX 1 skipped: OBX-5 is not numeric for value type NM&HL70357|OBX^1^5|102^OBX 1 skipped: OBX-5 is not numeric for value type NM^HL70357|W');
    const [row] = await run<{ status: string; ack: string }>(server.services.db, sql`select status, ack from ingest_messages where control_id = 'KW1'`);
    expect(row).toEqual({ status: 'processed', ack: out.ack });
  });

  it('refuses a transaction or batch with two updates of one conditional URL (400 naming both entries), writing nothing', async () => {
    const obs = (value: number): BundleEntry => ({
      resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, identifier: [{ system: 'urn:test:dup', value: 'd1' }], valueQuantity: { value } },
      request: { method: 'PUT', url: 'Observation?identifier=urn:test:dup|d1' },
    });
    const before = await counts();
    for (const type of ['transaction', 'batch'] as const) {
      const err = await server.services.transactions.execute(systemContext('dup test'), { resourceType: 'Bundle', type, entry: [obs(1), obs(2)] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FhirError);
      expect((err as FhirError).status).toBe(400);
      expect((err as FhirError).outcome.issue?.[0]).toMatchObject({
        diagnostics: expect.stringContaining('Bundle entries 0 and 1 both update Observation?identifier=urn:test:dup|d1'),
        expression: ['Bundle.entry[0].request.url', 'Bundle.entry[1].request.url'],
      });
    }
    expect((await counts()).Observation).toBe(before.Observation);
  });
});
