import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { processMessage } from './corpus-report.ts';
import { decodeHl7Bytes } from './decode.ts';
import { COMPARED_TYPES, meaningOf, type Meaning } from './oracle-compare.ts';

const BASE = path.resolve(process.cwd(), '../shared/corpora/conversion-oracles');
const exists = existsSync(path.join(BASE, 'INDEX.csv')) && existsSync(path.resolve(BASE, '../hl7v2'));
if (!exists) console.warn(`corpus ${BASE} absent: skipping HL7 v2 oracle comparison`);

/**
 * Resource types where Katahdin deliberately produces a different count than Microsoft FHIR-Converter.
 * Each reason is repeated in docs/INGESTION.md ("Where Katahdin differs from the oracle").
 */
const DOCUMENTED: Record<string, string> = {
  ServiceRequest: 'no ServiceRequest is invented for result/immunization/document OBRs; ORM/OML orders do map to one',
  RelatedPerson: 'only NK1 becomes RelatedPerson (not GT1 guarantors or IN1 insured parties)',
  Coverage: 'IN1 is mapped in ADT only',
  Observation: 'VXU funding/VIS OBX, MDM document OBX and ORM/RDE order OBX are not Observations; NM repetitions keep the first value',
  Condition: 'only DG1 becomes a Condition (PV2-3 admit reason goes to Encounter.reasonCode, PDA/PR1 are not mapped)',
  Encounter: 'A28/A31 carry no visit; a non-ADT message references a visit only when PV1-19 names one',
  Patient: 'A40 upserts the surviving Patient and returns a MergeInstruction instead of a Linkage',
  MedicationRequest: 'one MedicationRequest per RXE (not one per RXO and RXE); RDS does not re-create the order',
  MedicationDispense: 'only RXD becomes a MedicationDispense',
  DiagnosticReport: 'OBX before the first OBR (e.g. ORU-R01-01) belong to no report and are ignored',
  DocumentReference: 'DocumentReference is made for narrative reports and MDM content only',
  AllergyIntolerance: 'AL1/IAM are mapped in ADT only',
};

/** Inputs Katahdin rejects on purpose (unsupported events/types, or a document without content). */
const REJECTED = new Set(['ADT-A41-01', 'ADT-A41-02', 'ADT-A47-01', 'ADT-A47-02', 'ADT-A60-01', 'MDM-T01-01', 'MDM-T01-02', 'MDM-T02-01', 'SIU-S12-01']);

interface Pair { name: string; ours?: Meaning; theirs: Meaning }

function loadPairs(): Pair[] {
  const [, ...rows] = readFileSync(path.join(BASE, 'INDEX.csv'), 'utf8').trim().split('\n');
  return rows.map((r) => r.split(',')).filter(([input]) => input.includes('/hl7v2/')).map(([input, , expected]) => {
    const name = path.basename(input, '.hl7');
    const theirs = meaningOf(JSON.parse(readFileSync(path.join(BASE, expected), 'utf8')) as Bundle);
    const r = processMessage(name, decodeHl7Bytes(readFileSync(path.join(BASE, input)))).result;
    return { name, theirs, ours: r.kind === 'bundle' || r.kind === 'merge' ? meaningOf(r.bundle) : undefined };
  });
}

describe.skipIf(!exists)('HL7 v2 → FHIR oracle comparison (Microsoft FHIR-Converter)', () => {
  const pairs = exists ? loadPairs() : [];
  const mapped = pairs.filter((p): p is Pair & { ours: Meaning } => !!p.ours);

  it('covers the 46 oracle inputs; only documented ones are rejected', () => {
    expect(pairs).toHaveLength(46);
    expect(pairs.filter((p) => !p.ours).map((p) => p.name).sort()).toEqual([...REJECTED].sort());
  });

  it('agrees on Patient demographics wherever both produce a Patient', () => {
    const compared = mapped.filter((p) => p.theirs.patient && p.ours.patient);
    expect(compared.length).toBeGreaterThan(30);
    for (const p of compared) expect([p.name, p.ours.patient]).toEqual([p.name, p.theirs.patient]);
  });

  it('agrees on Encounter class and start wherever both produce an Encounter', () => {
    const compared = mapped.filter((p) => p.theirs.encounter && p.ours.encounter);
    expect(compared.length).toBeGreaterThan(15);
    for (const p of compared) expect([p.name, p.ours.encounter]).toEqual([p.name, p.theirs.encounter]);
  });

  it('agrees on vaccine codes and dates, and finds every oracle lab quantity', () => {
    for (const p of mapped) {
      expect([p.name, p.ours.immunizations]).toEqual([p.name, p.theirs.immunizations]);
      for (const q of p.theirs.quantities) expect(p.ours.quantities, `${p.name} ${q}`).toContain(q);
    }
    expect(mapped.flatMap((p) => p.theirs.quantities).length).toBeGreaterThan(30);
  });

  it('differs in resource counts only where the difference is documented', async () => {
    const lines: string[] = [];
    for (const p of mapped) {
      const diffs = COMPARED_TYPES.filter((t) => p.ours.counts[t] !== p.theirs.counts[t]);
      for (const t of diffs) expect(DOCUMENTED[t], `${p.name}: undocumented ${t} difference`).toBeDefined();
      lines.push(`${p.name}: ${diffs.map((t) => `${t} ${p.ours.counts[t]} vs ${p.theirs.counts[t]}`).join(', ') || 'same counts'}`);
    }
    await expect(`${lines.join('\n')}\n`).toMatchFileSnapshot('./__snapshots__/oracle-differences.txt');
  });
});
