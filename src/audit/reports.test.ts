import { inflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AccessContext } from '../access/context.ts';
import { systemContext } from '../access/context.ts';
import type { Database } from '../store/database.ts';
import { appendAudit } from './chain.ts';
import { accessReportCsv, accessReportPdf, csvCell } from './report-render.ts';
import { patientAccessReport, type AccessReportRow } from './reports.ts';
import { clinician, migratedPglite } from './test-support.ts';
import type { AuditInput } from './types.ts';

const ORGS: Record<string, string> = { 'org-mercy': 'Mercy Hospital', 'org-lab': 'Northern Lab, Inc.', 'org-er': 'County ER' };
const orgName = (id: string) => ORGS[id];
const dana = clinician();
const erDoc = clinician({ userId: 'u-eli', displayName: 'Dr. Eli "Doc" Smith', organizationId: 'org-er', purposeOfUse: 'ETREAT' });
const queryApp: AccessContext = { clientId: 'app-query', displayName: 'Lab portal', role: 'system', scopes: [], purposeOfUse: 'TREAT', organizationId: 'org-lab' };
const patient: AccessContext = { userId: 'u-jane', displayName: 'Jane Roe', role: 'patient', scopes: [], purposeOfUse: 'PATRQT', personId: 'per-jane' };

const act = (ctx: AccessContext, action: AuditInput['action'], personIds: string[], resources: string[], extra: Partial<AuditInput> = {}): AuditInput =>
  ({ ctx, action, outcome: 'success', personIds, resources, ...extra });

/** The scenario: Jane Roe has two linked person ids; some accesses must appear, others must not. */
const SCENARIO: Array<[string, AuditInput[]]> = [
  ['2026-01-05T09:00:00Z', [act({ ...systemContext('demo loader') }, 'create', ['per-jane'], ['Patient/j1'])]],
  ['2026-01-05T09:10:00Z', [act({ clientId: 'lab-feed', displayName: 'Lab feed', role: 'system', scopes: [], purposeOfUse: 'TREAT' }, 'ingest', ['per-jane'], ['Observation/o1'])]],
  ['2026-01-06T10:00:00Z', [act(dana, 'search', ['per-jane', 'per-other'], [], { query: 'Patient?family=roe' })]],
  ['2026-01-06T10:01:00Z', [act(dana, 'read', ['per-jane-2'], ['DiagnosticReport/d1', 'Observation/o1'], { relationship: 'encounter' })]],
  ['2026-01-06T10:02:00Z', [act(dana, 'read', ['per-other'], ['Condition/zz'])]],
  ['2026-01-07T02:00:00Z', [act(erDoc, 'read', ['per-jane'], ['Condition/c1'], { outcome: 'denied' })]],
  ['2026-01-07T02:01:00Z', [act(erDoc, 'break-glass', ['per-jane'], [], { relationship: 'break-glass', detail: 'unconscious' })]],
  ['2026-01-07T02:02:00Z', [act(erDoc, 'search', ['per-jane'], [], { query: 'Observation?patient=x&category=laboratory', relationship: 'break-glass' })]],
  ['2026-01-08T12:00:00Z', [act(patient, 'everything', ['per-jane'], [])]],
  ['2026-01-09T15:30:00Z', [act(queryApp, 'document', ['per-jane'], ['DocumentReference/doc1'])]],
];

const EXPECTED: AccessReportRow[] = [
  { time: '2026-01-06T10:00:00.000Z', userName: 'Dr. Dana Demo', role: 'Clinician', organization: 'Mercy Hospital', action: 'searched demographics', purpose: 'treatment', emergency: false },
  { time: '2026-01-06T10:01:00.000Z', userName: 'Dr. Dana Demo', role: 'Clinician', organization: 'Mercy Hospital', action: 'viewed lab results', purpose: 'treatment', emergency: false },
  { time: '2026-01-07T02:01:00.000Z', userName: 'Dr. Eli "Doc" Smith', role: 'Clinician', organization: 'County ER', action: 'emergency access', purpose: 'emergency treatment', emergency: true },
  { time: '2026-01-07T02:02:00.000Z', userName: 'Dr. Eli "Doc" Smith', role: 'Clinician', organization: 'County ER', action: 'searched lab results', purpose: 'emergency treatment', emergency: true },
  { time: '2026-01-09T15:30:00.000Z', userName: 'Lab portal', role: 'Computer system', organization: 'Northern Lab, Inc.', action: 'downloaded a document', purpose: 'treatment', emergency: false },
];

let db: Database;
beforeAll(async () => {
  db = await migratedPglite();
  for (const [when, inputs] of SCENARIO) await db.transaction((tx) => appendAudit(tx, inputs, { now: new Date(when) }));
});

describe('patientAccessReport', () => {
  it('lists exactly the accesses by others to any linked record, in order, in plain words', async () => {
    expect(await patientAccessReport(db, { personIds: ['per-jane', 'per-jane-2'] }, orgName)).toEqual(EXPECTED);
  });

  it('limits to a date range and to the given people', async () => {
    const rows = await patientAccessReport(db, { personIds: ['per-jane'], from: new Date('2026-01-07T00:00:00Z'), to: new Date('2026-01-08T00:00:00Z') }, orgName);
    expect(rows.map((r) => r.action)).toEqual(['emergency access', 'searched lab results']);
    expect(await patientAccessReport(db, { personIds: [] }, orgName)).toEqual([]);
  });

  it("counts an earlier person's accesses only while the record belonged to it", async () => {
    // per-other held one of Jane's records from Jan 6 10:02 (inclusive) until Jan 7: its 10:00 search predates that.
    const earlier = [{ personId: 'per-other', from: new Date('2026-01-06T10:02:00Z'), until: new Date('2026-01-07T00:00:00Z') }];
    const rows = await patientAccessReport(db, { personIds: ['per-jane-2'], earlier }, orgName);
    expect(rows.map((r) => [r.time, r.action])).toEqual([
      ['2026-01-06T10:01:00.000Z', 'viewed lab results'],
      ['2026-01-06T10:02:00.000Z', 'viewed health problems'],
    ]);
    const open = await patientAccessReport(db, { personIds: ['per-nobody'], earlier: [{ personId: 'per-other', from: new Date('2026-01-06T10:02:00.001Z'), until: null }] }, orgName);
    expect(open).toEqual([]);
  });
});

describe('rendering', () => {
  it('escapes CSV cells: quotes, commas, newlines and formula starts', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('Northern Lab, Inc.')).toBe('"Northern Lab, Inc."');
    expect(csvCell('Dr. Eli "Doc" Smith')).toBe('"Dr. Eli ""Doc"" Smith"');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    const csv = accessReportCsv(EXPECTED.slice(2, 3));
    expect(csv).toBe(
      'Date and time,Name,Role,Organization,Action,Purpose,Emergency access\r\n' +
      '"Jan 7, 2026, 2:01 AM UTC","Dr. Eli ""Doc"" Smith",Clinician,County ER,emergency access,emergency treatment,Yes\r\n',
    );
  });

  it('produces a PDF titled with the person and holding every row, emergency rows highlighted', async () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ ...EXPECTED[i % EXPECTED.length], userName: `User ${i}` }));
    const pdf = await accessReportPdf(many, { personName: 'Jane Roe', compress: false, rowsPerPage: 18, generatedAt: new Date('2026-02-01T12:00:00Z') });
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const text = pdfText(pdf);
    expect(text).toContain('Who viewed the health record of Jane Roe');
    expect(text).toContain('Generated Feb 1, 2026, 12:00 PM UTC');
    for (let i = 0; i < 40; i++) expect(text).toContain(`User ${i}`);
    expect(text).toContain('Page 3 of 3');
    expect(pdf.toString('latin1')).toContain('1 0.8784313725490196 0.5411764705882353 scn'); // the emergency highlight colour #ffe08a
    const compressed = await accessReportPdf(EXPECTED, { personName: 'Jane Roe' });
    expect(pdfText(compressed)).toContain('emergency access');
  });
});

/** Minimal text extraction: hex strings inside TJ arrays of (optionally Flate-compressed) content streams. */
function pdfText(pdf: Buffer): string {
  const raw = pdf.toString('latin1');
  const streams: string[] = [];
  for (const m of raw.matchAll(/stream\r?\n([\s\S]*?)\r?\nendstream/g)) {
    const body = Buffer.from(m[1], 'latin1');
    try {
      streams.push(inflateSync(body).toString('latin1'));
    } catch {
      streams.push(m[1]);
    }
  }
  return streams.join('\n').split('\n')
    .filter((l) => l.endsWith('TJ'))
    .map((l) => [...l.matchAll(/<([0-9a-fA-F]*)>/g)].map((h) => Buffer.from(h[1], 'hex').toString('latin1')).join(''))
    .join('\n');
}
