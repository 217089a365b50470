import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Bundle, DiagnosticReport, DocumentReference, Encounter, Immunization, MedicationDispense, MedicationRequest, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { outcomeLine, processMessage, typeTable, type CorpusOutcome } from './corpus-report.ts';
import { decodeHl7Bytes } from './decode.ts';
import { splitMessages } from './split-batch.ts';

const ROOT = path.resolve(process.cwd(), '../shared/corpora/hl7v2');
const exists = existsSync(path.join(ROOT, 'INDEX.csv'));
if (!exists) console.warn(`corpus ${ROOT} absent: skipping HL7 v2 corpus tests`);

interface IndexRow { file: string; messages: number }

function readIndex(): IndexRow[] {
  const [, ...rows] = readFileSync(path.join(ROOT, 'INDEX.csv'), 'utf8').trim().split('\n');
  return rows.map((r) => r.split(',')).map(([file, , messages]) => ({ file, messages: Number(messages) }));
}

describe.skipIf(!exists)('HL7 v2 corpus', () => {
  const index = exists ? readIndex() : [];
  const texts = new Map(index.map((r) => [r.file, decodeHl7Bytes(readFileSync(path.join(ROOT, r.file)))]));
  const outcomes: CorpusOutcome[] = [];
  const timings: number[] = [];
  for (const row of index) {
    splitMessages(texts.get(row.file) ?? '').forEach((m, i) => {
      const t0 = performance.now();
      outcomes.push(processMessage(`${row.file}#${i}`, m));
      timings.push(performance.now() - t0);
    });
  }
  const byKey = new Map(outcomes.map((o) => [o.key, o]));

  it('splits every file into the number of messages INDEX.csv lists (206 in 178 files)', () => {
    expect(index).toHaveLength(178);
    for (const row of index) expect([row.file, splitMessages(texts.get(row.file) ?? '').length]).toEqual([row.file, row.messages]);
    expect(outcomes).toHaveLength(206);
  });

  it('maps or rejects every message with a reasoned error and a well-formed ACK, quickly', () => {
    for (const o of outcomes) {
      const msa = o.ack.split('\r')[1];
      if (o.result.kind === 'bundle' || o.result.kind === 'merge') {
        expect(msa, o.key).toMatch(/^MSA\|AA\|/);
        expect(o.result.bundle.type).toBe('transaction');
      } else {
        expect(o.result.error.reason.length, o.key).toBeGreaterThan(5);
        expect(msa, o.key).toMatch(/^MSA\|A[ER]\|/);
        expect(o.ack.split('\r')[2], o.key).toMatch(new RegExp(`^ERR\\|.*\\|${o.result.error.code}\\^`));
      }
    }
    expect(Math.max(...timings)).toBeLessThan(1000);
  });

  // Each entry is then one stored resource: the table counts what a message stores (test/ingest/hl7v2-item-keys.test.ts).
  it('maps no two entries of a message onto one conditional key (one would overwrite the other)', () => {
    for (const o of outcomes) {
      if (o.result.kind !== 'bundle' && o.result.kind !== 'merge') continue;
      const updates = o.result.bundle.entry!.filter((e) => e.request?.method === 'PUT').map((e) => e.request!.url);
      expect(updates.length - new Set(updates).size, o.key).toBe(0);
    }
  });

  it('pins the per-type resource table and every per-message outcome', async () => {
    await expect(typeTable(outcomes)).toMatchFileSnapshot('./__snapshots__/corpus-table.md');
    await expect(outcomes.map(outcomeLine).join('\n') + '\n').toMatchFileSnapshot('./__snapshots__/corpus-outcomes.txt');
  });

  const bundle = (key: string): Bundle => {
    const r = byKey.get(key)?.result;
    if (!r || (r.kind !== 'bundle' && r.kind !== 'merge')) throw new Error(`${key} was not mapped`);
    return r.bundle;
  };
  const all = <T extends Resource>(key: string, type: T['resourceType']): T[] => (bundle(key).entry ?? []).map((e) => e.resource).filter((r): r is T => r?.resourceType === type);
  const src = (key: string) => texts.get(key.split('#')[0]) ?? '';

  // Each spot check names values copied from the source text and asserts both the text and the mapping.
  const patients: [string, string, string, string, string][] = [
    ['ms-fhir-converter/ADT-A01-01.hl7#0', 'EVERYMAN', 'ADAM', '19880818', 'PATID1234'],
    ['ms-fhir-converter/ADT01-23.hl7#0', 'DUCK', 'DONALD', '19241010', '10006579'],
    ['ms-fhir-converter/ADT04-23.hl7#0', 'BROS', 'MARIO', '19850101', '123456789'],
    ['ms-fhir-converter/ADT04-251.hl7#0', 'Doe', 'Jane', '19780101', 'MRN12345'],
    ['ms-fhir-converter/ADT04-28.hl7#0', 'Bixby', 'Timothy', '20080106', '0000000001'],
    ['ms-fhir-converter/IZ_1_1.1_Admin_Child_Max_Message.hl7#0', 'Snow', 'Madelynn', '20070706', 'D26376273'],
    ['ms-fhir-converter/LRI_2.0-NG_CBC_Typ_Message.hl7#0', 'Jones', 'William', '19610615', 'PATID1234'],
    ['ms-fhir-converter/MDM-T02-03.hl7#0', 'Clark', 'Frederick', '19300122', '3196695816'],
    ['ms-fhir-converter/ORU-R01-01.hl7#0', 'Finn', 'Huckleberry', '19630815', '14'],
    ['ms-fhir-converter/VXU.hl7#0', 'Wong', 'Elise', '19830615', '90012'],
    ['cdc-trusted-intermediary/Oracle_004_Oracle_ORU_R01.hl7#0', 'CPSI', 'DONNA', '19651015', '557204'],
    ['cdc-trusted-intermediary/TN_001_TN_ORU_R01_LRI.hl7#0', 'ZZZTEST', 'BOY MOMELO', '20220804', '914193'],
    ['cdc-trusted-intermediary/NewSTEPs_001_NewSTEPs_OML_021.hl7#0', 'ONE', 'TESTCASE', '20170221', '987654321'],
    ['hapi/adt_a03.txt#0', 'ZZZ', 'ZZZ', '19830824', '5520255'],
    ['hapi/messages.txt#15', 'RADIOLOGY', 'INPAT', '19560202', 'N00829'],
    ['linuxforhealth/sample_unix.hl7#0', 'DOE', 'JOHN', '19800202', 'PID1234'],
    ['linuxforhealth/sample_win.hl7#0', 'DOE', 'JOHN', '19800202', 'PID1234'],
  ];
  it.each(patients)('%s: Patient name, birth date and MRN match the PID text', (key, family, given, birth, mrn) => {
    const pid = src(key).split(/\r\n|\r|\n/).filter((l) => l.startsWith('PID')).join('\n');
    for (const text of [family, given, birth, mrn]) expect(pid).toContain(text);
    const [p] = all<Patient>(key, 'Patient');
    expect(p.name?.[0].family).toBe(family);
    expect(p.name?.[0].given?.[0]).toBe(given);
    expect(p.birthDate).toBe(`${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6, 8)}`);
    expect(p.identifier?.[0].value).toBe(mrn);
  });

  const observations: [string, string, number, string][] = [
    ['ms-fhir-converter/LAB-ORU-1.hl7#0', '11273-0', 4.06, 'tera.l-1'],
    ['ms-fhir-converter/LRI_2.0-NG_CBC_Typ_Message.hl7#0', '26453-1', 4.41, 'million per microliter'],
    ['ms-fhir-converter/ORU-R01-RMGEAD.hl7#0', '1554-5', 182, 'mg/dl'],
    ['cdc-trusted-intermediary/Oracle_004_Oracle_ORU_R01.hl7#0', '20260', 2.1, 'mg/dL'],
    ['cdc-trusted-intermediary/TX_002_TX_ORU_R01.hl7#0', '8339-4', 2805, 'gram'],
    ['cdc-trusted-intermediary/test_008_ORU_R01_micro_character_encoding.hl7#0', '47633-3', 0.5, 'µmol/L'],
  ];
  it.each(observations)('%s: OBX %s value %d %s', (key, code, value, unit) => {
    const obx = src(key).split(/\r\n|\r|\n/).find((l) => l.startsWith('OBX') && l.includes(code) && l.includes(unit));
    expect(obx).toBeDefined();
    const o = all<Observation>(key, 'Observation').find((x) => x.code.coding?.[0].code === code && x.valueQuantity?.value === value);
    expect(o?.valueQuantity?.unit).toBe(unit);
    expect(o?.subject?.reference).toMatch(/^urn:uuid:/);
  });

  it('VXU: CVX/NDC code and lot from RXA', () => {
    const iz = all<Immunization>('ms-fhir-converter/IZ_1_1.1_Admin_Child_Max_Message.hl7#0', 'Immunization')[0];
    expect(src('ms-fhir-converter/IZ_1_1.1_Admin_Child_Max_Message.hl7#0')).toMatch(/RXA\|[^\n]*\|140\^[^\n]*Z0860BB/);
    expect(iz.vaccineCode.coding?.[0]).toMatchObject({ system: 'http://hl7.org/fhir/sid/cvx', code: '140' });
    expect(iz.lotNumber).toBe('Z0860BB');
    const vxu = all<Immunization>('ms-fhir-converter/VXU.hl7#0', 'Immunization');
    expect(vxu.map((i) => i.lotNumber)).toContain('315841');
  });

  it('pharmacy: RDE and RDS codes and order identifiers', () => {
    const [req] = all<MedicationRequest>('ms-fhir-converter/RDE-O11-01.hl7#0', 'MedicationRequest');
    expect(src('ms-fhir-converter/RDE-O11-01.hl7#0')).toContain('0143963401');
    expect(req.medicationCodeableConcept?.coding?.[0].code).toBe('0143963401');
    const disp = all<MedicationDispense>('ms-fhir-converter/RDS-O13-02.hl7#0', 'MedicationDispense');
    expect(disp).toHaveLength(2);
    expect(disp[0].medicationCodeableConcept?.coding?.[0].code).toBe('01151327');
  });

  it('ADT: encounter status follows the trigger and the visit number is the identity', () => {
    const statuses = ['A01', 'A03', 'A04', 'A05', 'A11', 'A13'].map((t) => all<Encounter>(`ms-fhir-converter/ADT-${t}-01.hl7#0`, 'Encounter')[0].status);
    expect(statuses).toEqual(['in-progress', 'finished', 'arrived', 'planned', 'cancelled', 'in-progress']);
    expect(all<Encounter>('hapi/adt_a03.txt#0', 'Encounter')[0].identifier?.[0].value).toBe('2008003369');
  });

  it('narrative reports become DocumentReferences with the report text', () => {
    const key = 'linuxforhealth/ORU-multiline-short.hl7#0';
    const [doc] = all<DocumentReference>(key, 'DocumentReference');
    const text = Buffer.from(doc.content[0].attachment.data ?? '', 'base64').toString('utf8');
    const firstObx = src(key).split('\n').find((l) => l.startsWith('OBX')) ?? '';
    expect(text).toContain(firstObx.split('|')[5].slice(0, 20));
    expect(all<DiagnosticReport>(key, 'DiagnosticReport')[0].presentedForm?.[0].data).toBe(doc.content[0].attachment.data);
  });

  it('a comment sent a line per FT OBX among coded results is one Observation holding every line (Natus_002)', () => {
    const key = 'cdc-trusted-intermediary/Natus_002_Natus_ORU_R01_NBS.hl7#0';
    for (const code of ['69969-4', '58093-6', '57710-6']) {
      const lines = src(key).split(/\r\n|\r|\n/).filter((l) => l.startsWith('OBX|') && l.split('|')[3].startsWith(`${code}^`));
      expect(lines.map((l) => l.split('|')[2]), code).toEqual(['FT', 'FT']);
      const found = all<Observation>(key, 'Observation').filter((o) => o.code.coding?.[0].code === code);
      expect(found, code).toHaveLength(1);
      const starts = lines.map((l) => found[0].valueString?.indexOf(l.split('|')[5].slice(0, 60)));
      expect(starts[0], code).toBe(0);
      expect(starts[1], code).toBeGreaterThan(0);
      expect(found[0].valueString?.charAt(starts[1]! - 1), code).toBe('\n');
    }
  });

  it('rejects the malformed CDC cases with the field named', () => {
    const line = (f: string) => outcomeLine(byKey.get(`cdc-trusted-intermediary/${f}#0`)!);
    expect(line('invalid_msh_present_but_missing_msh-2.hl7')).toContain('AR 101 @MSH-2');
    expect(line('invalid_msh_present_but_missing_msh-9.hl7')).toContain('AR 101 @MSH-9');
    expect(line('invalid_msh_present_but_missing_msh-10.hl7')).toContain('AR 101 @MSH-10');
    expect(line('invalid_msh_present_but_missing_all_fields.hl7')).toContain('AR 101 @MSH-2');
    expect(byKey.has('cdc-trusted-intermediary/invalid_empty.hl7#0')).toBe(false);
  });

  it('A40 with two PID/MRG pairs yields two merge instructions', () => {
    const r = byKey.get('ms-fhir-converter/ADT-A40-02.hl7#0')?.result;
    expect(r?.kind).toBe('merge');
    if (r?.kind !== 'merge') return;
    expect(r.merges).toHaveLength(2);
    for (const m of r.merges) {
      expect(src('ms-fhir-converter/ADT-A40-02.hl7#0')).toContain(m.retired.value);
      expect(m.retired.value).not.toBe(m.survivor.value);
    }
  });
});
