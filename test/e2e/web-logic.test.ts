/** Unit tests of the web app's pure logic (record grouping, duplicates, lab series, chart scales, form texts). */
import { describe, expect, it } from 'vitest';
import type { Condition, Observation, Resource } from '@medplum/fhirtypes';
import { groupDuplicates } from '../../web/src/record/dedupe.ts';
import { labSeries } from '../../web/src/record/lab-series.ts';
import { linearScale } from '../../web/src/record/chart-scale.ts';
import { buildRecord, isActiveCondition } from '../../web/src/record/record-model.ts';
import { clinicalDate, patientIdOfPerson, sourceName } from '../../web/src/record/source.ts';
import { conceptKey, dateText, identifierText } from '../../web/src/record/display.ts';
import { toConsentStatus } from '../../web/src/api/consent-status.ts';
import { parameters } from '../../src/http/parameters.ts';
import { decodeBase64Utf8, kindOf } from '../../web/src/record/attachment.ts';
import { OPT_IN, OPT_OUT, shareText, withholdText } from '../../web/src/portal/consent-texts.ts';

const ORG = 'https://katahdin.org/fhir/StructureDefinition/source-organization';

function glucose(id: string, org: string, date: string, value: number): Observation {
  return {
    resourceType: 'Observation', id, status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose' }] },
    effectiveDateTime: date, valueQuantity: { value, unit: 'mg/dL' },
    referenceRange: [{ low: { value: 70 }, high: { value: 99 } }],
    extension: [{ url: ORG, valueReference: { reference: `Organization/${org}`, display: org } }],
  } as Observation;
}

describe('groupDuplicates', () => {
  it('shows the same code on the same day from two sources once, naming both', () => {
    const a = glucose('1', 'Downeast Medical Center', '2024-03-02T08:00:00Z', 101);
    const b = glucose('2', 'Aroostook Valley Clinic', '2024-03-02T09:30:00Z', 101);
    const c = glucose('3', 'Downeast Medical Center', '2024-04-02T08:00:00Z', 90);
    const groups = groupDuplicates([a, b, c], (o) => conceptKey(o.code));
    expect(groups).toHaveLength(2);
    expect(groups[0].sources).toEqual(['Downeast Medical Center', 'Aroostook Valley Clinic']);
    expect(groups[0].items.map((x) => x.id)).toEqual(['1', '2']);
    expect(groups[1].sources).toEqual(['Downeast Medical Center']);
  });

  it('never merges undated items or different resource types', () => {
    const undated: Condition[] = [
      { resourceType: 'Condition', id: 'x', subject: {}, code: { text: 'Asthma' } },
      { resourceType: 'Condition', id: 'y', subject: {}, code: { text: 'Asthma' } },
    ];
    expect(groupDuplicates(undated, (c) => conceptKey(c.code))).toHaveLength(2);
  });

  it('counts one source once even when it sent the fact twice', () => {
    const a = glucose('1', 'Downeast Medical Center', '2024-03-02T08:00:00Z', 101);
    const b = glucose('2', 'Downeast Medical Center', '2024-03-02T08:00:00Z', 101);
    expect(groupDuplicates([a, b], (o) => conceptKey(o.code))[0].sources).toEqual(['Downeast Medical Center']);
  });
});

describe('labSeries', () => {
  it('builds one ascending series per analyte with the reference range and abnormal flags', () => {
    const obs = [
      glucose('2', 'A', '2024-05-01T00:00:00Z', 130),
      glucose('1', 'A', '2024-01-01T00:00:00Z', 85),
      glucose('3', 'B', '2024-05-01T00:00:00Z', 130),
    ];
    const [s] = labSeries(obs);
    expect(s.name).toBe('Glucose');
    expect([s.low, s.high]).toEqual([70, 99]);
    expect(s.points.map((p) => p.value)).toEqual([85, 130]);
    expect(s.points.map((p) => p.abnormal)).toEqual([false, true]);
  });

  it('skips non-numeric and undated results', () => {
    const o = glucose('1', 'A', '2024-01-01', 85);
    delete o.valueQuantity;
    const u = glucose('2', 'A', '2024-01-01', 85);
    delete u.effectiveDateTime;
    expect(labSeries([o, u])).toEqual([]);
  });
});

describe('linearScale', () => {
  it('maps the widened nice domain onto the pixel range and returns ticks covering the data', () => {
    const s = linearScale(72, 131, 200, 0);
    expect(s.ticks[0]).toBeLessThanOrEqual(72);
    expect(s.ticks[s.ticks.length - 1]).toBeGreaterThanOrEqual(131);
    expect(s(s.ticks[0])).toBe(200);
    expect(s(s.ticks[s.ticks.length - 1])).toBe(0);
  });

  it('handles a single value without dividing by zero', () => {
    const s = linearScale(5, 5, 100, 0);
    expect(Number.isFinite(s(5))).toBe(true);
    expect(s(5)).toBeGreaterThan(0);
    expect(s(5)).toBeLessThan(100);
  });
});

describe('record model', () => {
  it('sorts resources into sections, newest first, and recognises active problems', () => {
    const resources: Resource[] = [
      glucose('1', 'A', '2023-01-01', 85),
      glucose('2', 'A', '2024-01-01', 90),
      { resourceType: 'Condition', id: 'c', subject: {}, clinicalStatus: { coding: [{ code: 'resolved' }] } },
      { resourceType: 'Patient', id: 'p' },
    ];
    const m = buildRecord(resources);
    expect(m.labs.map((o) => o.id)).toEqual(['2', '1']);
    expect(m.patients).toHaveLength(1);
    expect(isActiveCondition(m.conditions[0])).toBe(false);
  });

  it('reads the source from the extension, else from meta.source', () => {
    expect(sourceName(glucose('1', 'Downeast Medical Center', '2024-01-01', 1))).toBe('Downeast Medical Center');
    expect(sourceName({ resourceType: 'Patient', meta: { source: 'urn:katahdin:hl7v2:DMC' } })).toBe('DMC');
    expect(clinicalDate({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, period: { start: '2024-02-02' } })).toBe('2024-02-02');
  });

  it('masks social security numbers to the last four digits', () => {
    expect(identifierText({ system: 'http://hl7.org/fhir/sid/us-ssn', value: '123-45-6789' })).toBe('SSN ***-**-6789');
  });

  it('decodes UTF-8 attachments and recognises C-CDA', () => {
    const xml = '<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>Résumé</title></ClinicalDocument>';
    const decoded = decodeBase64Utf8(Buffer.from(xml, 'utf8').toString('base64'));
    expect(decoded).toBe(xml);
    expect(kindOf(undefined, decoded)).toBe('ccda');
    expect(kindOf('text/plain', 'IMPRESSION: normal')).toBe('text');
    expect(kindOf('application/pdf')).toBe('pdf');
  });
});

describe('server answers as the pages read them', () => {
  it('maps $consent-status Parameters, as the server builds them, to the status the forms show', () => {
    // The same call privacy-operations.ts makes: shared categories repeat as valueCode, instants become valueDateTime.
    const status = toConsentStatus(parameters({ optedOut: false, optedOutAt: undefined, optInDate: '2026-03-01T00:00:00.000Z', shared: ['PSY', 'HIV'] }));
    expect(status).toEqual({ optedOut: false, optedOutAt: undefined, optInDate: '2026-03-01T00:00:00.000Z', shared: ['PSY', 'HIV'] });
    expect(toConsentStatus(parameters({ optedOut: true, optedOutAt: '2026-12-01T10:00:00.000Z', shared: [] }))).toMatchObject({ optedOut: true, optedOutAt: '2026-12-01T10:00:00.000Z', shared: [] });
  });

  it('finds the source Patient of the person an audit request names (the report is opened through it)', () => {
    expect(patientIdOfPerson({ resourceType: 'Person', link: [{ target: { reference: 'RelatedPerson/r1' } }, { target: { reference: 'Patient/p1' }, assurance: 'level3' }] })).toBe('p1');
    expect(patientIdOfPerson({ resourceType: 'Person' })).toBeUndefined();
  });

  it('shows an instant as the day and time in the reader\'s time zone', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      // 01:00 UTC on 8 December is 20:00 on 7 December in Maine: not "2026-12-08 20:00".
      expect(dateText('2026-12-08T01:00:00Z')).toBe('2026-12-07 20:00');
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
    expect(dateText('2026-12-08')).toBe('2026-12-08');
  });
});

/** Flesch–Kincaid grade level with a simple vowel-group syllable count (good enough to catch jargon creep). */
function gradeLevel(text: string): number {
  const sentences = text.split(/[.!?]+/).filter((s) => s.trim()).length || 1;
  const words = text.split(/\s+/).filter((w) => /[a-z]/i.test(w));
  const syllables = words.reduce((n, w) => {
    const groups = w.toLowerCase().replace(/[^a-z]/g, '').replace(/e$/, '').match(/[aeiouy]+/g);
    return n + Math.max(1, groups?.length ?? 1);
  }, 0);
  return 0.39 * (words.length / sentences) + 11.8 * (syllables / words.length) - 15.59;
}

describe('patient form texts', () => {
  const forms = [OPT_OUT, OPT_IN, shareText('PSY'), withholdText('HIV'), shareText('ETH')];

  it.each(forms.map((f) => [f.id, f] as const))('%s reads at or below 8th grade', (_id, f) => {
    const text = [f.intro, ...f.whatHappens, f.confirmQuestion].join(' ');
    expect(gradeLevel(text)).toBeLessThanOrEqual(8);
  });

  it('explains the privacy rules: opt-out removes data, opt-in covers only later visits', () => {
    expect(OPT_OUT.whatHappens.join(' ')).toMatch(/remove your health information/);
    expect(OPT_OUT.whatHappens.join(' ')).toMatch(/even in an emergency/);
    expect(OPT_IN.whatHappens.join(' ')).toMatch(/only include information from medical visits that happen after/);
    expect(withholdText('PSY').whatHappens.join(' ')).toMatch(/emergency/);
  });
});
