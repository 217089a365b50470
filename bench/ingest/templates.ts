import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { splitMessages } from '../../src/ingest/hl7v2/split-batch.ts';
import { adtA01, oruR01 } from './messages.ts';
import type { FeedPatient } from './patients.ts';

export const HL7_CORPUS = resolve(process.cwd(), '../shared/corpora/hl7v2/ms-fhir-converter');

/** The realistic mix of the issue: ADT 50 %, ORU 35 %, VXU/MDM/RDE 15 % (5 % each). */
const MIX: Array<{ kind: string; weight: number; files: string[] }> = [
  { kind: 'ADT', weight: 50, files: ['ADT-A01-01.hl7', 'ADT-A01-02.hl7', 'ADT-A03-01.hl7', 'ADT-A04-01.hl7', 'ADT-A08-01.hl7', 'ADT-A08-02.hl7'] },
  { kind: 'ORU', weight: 35, files: ['ORU-R01-01.hl7', 'ORU-R01-RMGEAD.hl7'] },
  { kind: 'VXU', weight: 5, files: ['VXU-V04-01.hl7', 'VXU-V04-02.hl7'] },
  { kind: 'MDM', weight: 5, files: ['MDM-T02-02.hl7', 'MDM-T02-03.hl7'] },
  { kind: 'RDE', weight: 5, files: ['RDE-O11-01.hl7', 'RDE-O11-02.hl7'] },
];

/** Fields whose first component identifies a visit, order or document: made unique per message. */
const UNIQUE_FIELDS: Record<string, number[]> = { PV1: [19], ORC: [2, 3], OBR: [2, 3], TXA: [12, 13], RXA: [], MRG: [1] };

export interface Template {
  kind: string;
  lines: string[][];
}

function loadTemplate(kind: string, file: string): Template | undefined {
  const path = join(HL7_CORPUS, file);
  if (!existsSync(path)) return undefined;
  const [message] = splitMessages(readFileSync(path, 'utf8'));
  return message ? { kind, lines: message.split('\r').map((segment) => segment.split('|')) } : undefined;
}

/** Corpus templates per kind; synthetic ADT/ORU when the corpus is absent (the mix then has only those two). */
export function loadMix(): { pick: (r: number) => Template; source: string } {
  const pools = MIX.map((m) => ({ ...m, templates: m.files.map((f) => loadTemplate(m.kind, f)).filter((t): t is Template => !!t) })).filter((p) => p.templates.length);
  if (pools.length === 0) {
    const synthetic = (kind: string, er7: string): Template => ({ kind, lines: er7.split('\r').map((s) => s.split('|')) });
    const adt = synthetic('ADT', adtA01('X', 'X'));
    const oru = synthetic('ORU', oruR01('X', 'X'));
    return { pick: (r) => (r < 0.59 ? adt : oru), source: 'synthetic ADT/ORU (corpus absent)' };
  }
  const total = pools.reduce((n, p) => n + p.weight, 0);
  return {
    source: `corpus templates (${pools.map((p) => `${p.kind} ${p.templates.length}`).join(', ')})`,
    pick(r) {
      let x = r * total;
      for (const p of pools) {
        if (x < p.weight) return p.templates[Math.floor((x / p.weight) * p.templates.length)];
        x -= p.weight;
      }
      return pools[0].templates[0];
    },
  };
}

const capitalized = (s: string) => s.replace(/(^|[ '-])([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase());
const SEX: Record<string, string> = { male: 'M', female: 'F' };

/** PID-3 (the MRN, keeping the template's assigning authority), -5 name, -7 birth date, -8 sex, -11 address, -13 phone, -19 SSN. */
function withPatient(fields: string[], p: FeedPatient): string[] {
  const out = [...fields];
  while (out.length < 20) out.push('');
  const r = p.record;
  const [, ...authority] = (out[3] || '^^^BENCH^MR').split('~')[0].split('^');
  out[3] = [p.mrn, ...authority].join('^');
  out[5] = [capitalized(r.family), ...r.given.map(capitalized)].join('^');
  out[7] = r.birthDate?.replace(/-/g, '') ?? '';
  out[8] = r.sex ? SEX[r.sex] ?? 'U' : '';
  out[11] = r.street || r.city || r.postalCode ? `${capitalized(r.street ?? '')}^^${capitalized(r.city ?? '')}^ME^${r.postalCode ?? ''}` : '';
  out[13] = r.phone ?? '';
  out[19] = r.ssn ?? '';
  return out;
}

/** One concrete message: unique MSH-10 and visit/order/document numbers (suffix `n`), the patient's PID, processing id P. */
export function instantiate(t: Template, n: string, patient: FeedPatient): string {
  return t.lines
    .map((fields) => {
      const out = fields[0] === 'PID' ? withPatient(fields, patient) : [...fields];
      if (out[0] === 'MSH') {
        out[9] = `B${n}`;
        // Production messages (MSH-11 P): several corpus samples are marked training or debugging, which are refused.
        out[10] = 'P';
      }
      for (const f of UNIQUE_FIELDS[out[0]] ?? []) {
        if (!out[f]) continue;
        out[f] = out[f].split('~')[0].replace(/^([^^]*)/, (first) => (first ? `${first}-${n}` : first));
      }
      return out.join('|');
    })
    .join('\r');
}
