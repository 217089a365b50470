import type { Resource } from '@medplum/fhirtypes';

/**
 * Search expressions over the Synthea corpus with their expected counts, computed by plain JSON traversal (not by the
 * extractor). Types: string, token, date, reference, quantity, number, uri; modifiers, prefixes, OR, AND, chains, _has.
 */
export interface CountCase {
  query: string;
  expected: (all: J[]) => number;
}

// Plain JSON (what the files hold), walked by hand on purpose.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type J = any;

const norm = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
const of = (all: J[], type: string) => all.filter((r) => r.resourceType === type);
const nameParts = (p: J): string[] =>
  (p.name ?? []).flatMap((n: J) => [n.text, n.family, ...(n.given ?? []), ...(n.prefix ?? []), ...(n.suffix ?? [])]).filter(Boolean);
const codings = (cc: J): J[] => cc?.coding ?? [];
const ms = (d: string) => Date.parse(d.length === 10 ? `${d}T00:00:00Z` : d);
const DAY = 86_400_000;
const count = (type: string, pred: (r: J) => boolean) => (all: J[]) => of(all, type).filter(pred).length;
const patientOf = (r: J) => (r.subject ?? r.patient)?.reference;

export const PATIENT = 'Patient/6d23a95e-7e18-4201-90ec-9501fa89fbd2'; // Alfreda Wyman
const PID = PATIENT.slice(8);
const hasTyped = (p: J, code: string, value: string) =>
  p.identifier.some((i: J) => i.value === value && codings(i.type).some((c) => c.code === code));
const born = (p: J) => ms(p.birthDate);
const approx = (d: string, now: number) => [ms(d) - Math.abs(now - ms(d)) * 0.1, ms(d) + DAY + Math.abs(now - ms(d) - DAY) * 0.1];

export function countCases(now: number): CountCase[] {
  const [alo, ahi] = approx('1980-10-28', now);
  return [
    { query: 'Patient?gender=female', expected: count('Patient', (p) => p.gender === 'female') },
    { query: 'Patient?name=wyman', expected: count('Patient', (p) => nameParts(p).some((s) => norm(s).startsWith('wyman'))) },
    { query: 'Patient?family:exact=Wyman', expected: count('Patient', (p) => p.name.some((n: J) => n.family === 'Wyman')) },
    { query: 'Patient?family:exact=wyman', expected: () => 0 },
    { query: 'Patient?name:contains=ann', expected: count('Patient', (p) => nameParts(p).some((s) => norm(s).includes('ann'))) },
    { query: 'Patient?family=echevarria', expected: count('Patient', (p) => p.name.some((n: J) => norm(n.family).startsWith('echevarria'))) },
    { query: 'Patient?address-city=boston,worcester', expected: count('Patient', (p) => p.address?.some((a: J) => ['boston', 'worcester'].some((c) => norm(a.city).startsWith(c)))) },
    { query: 'Patient?birthdate=lt1950-01-01', expected: count('Patient', (p) => born(p) < ms('1950-01-01')) },
    { query: 'Patient?birthdate=ge1980&birthdate=lt1990', expected: count('Patient', (p) => born(p) >= ms('1980-01-01') && born(p) < ms('1990-01-01')) },
    { query: 'Patient?birthdate=eq1980', expected: count('Patient', (p) => p.birthDate.startsWith('1980')) },
    { query: 'Patient?birthdate=ne1980', expected: count('Patient', (p) => !p.birthDate.startsWith('1980')) },
    { query: 'Patient?birthdate=gt1999-12-31', expected: count('Patient', (p) => born(p) >= ms('2000-01-01')) },
    { query: 'Patient?birthdate=le1940-06-30', expected: count('Patient', (p) => born(p) <= ms('1940-06-30')) },
    { query: 'Patient?birthdate=sa2000-01-01', expected: count('Patient', (p) => born(p) >= ms('2000-01-02')) },
    { query: 'Patient?birthdate=eb1930-01-01', expected: count('Patient', (p) => born(p) < ms('1930-01-01')) },
    { query: 'Patient?birthdate=ap1980-10-28', expected: count('Patient', (p) => born(p) < ahi && born(p) + DAY > alo) },
    { query: 'Patient?deceased=true', expected: count('Patient', (p) => !!p.deceasedDateTime || p.deceasedBoolean === true) },
    { query: 'Patient?death-date:missing=false', expected: count('Patient', (p) => !!p.deceasedDateTime) },
    { query: 'Patient?death-date:missing=true', expected: count('Patient', (p) => !p.deceasedDateTime) },
    { query: 'Patient?identifier=http://hl7.org/fhir/sid/us-ssn|999-98-7415', expected: count('Patient', (p) => p.identifier.some((i: J) => i.system === 'http://hl7.org/fhir/sid/us-ssn' && i.value === '999-98-7415')) },
    { query: 'Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|3287b938-4670-47eb-91e5-e0ce3df71405', expected: count('Patient', (p) => hasTyped(p, 'MR', '3287b938-4670-47eb-91e5-e0ce3df71405')) },
    { query: 'Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|999-98-7415', expected: count('Patient', (p) => hasTyped(p, 'MR', '999-98-7415')) },
    { query: 'Patient?_tag=https://smarthealthit.org/tags|synthea-5-2019', expected: count('Patient', (p) => p.meta?.tag?.some((t: J) => t.code === 'synthea-5-2019')) },
    { query: `Patient?_id=${PID},ba4aa91d-dcb4-4b9f-84fb-f2a9fa57a9fe,nope`, expected: () => 2 },
    { query: 'Observation?code=http://loinc.org|8302-2', expected: count('Observation', (o) => codings(o.code).some((c) => c.system === 'http://loinc.org' && c.code === '8302-2')) },
    { query: 'Observation?code=8302-2,29463-7', expected: count('Observation', (o) => codings(o.code).some((c) => ['8302-2', '29463-7'].includes(c.code))) },
    { query: 'Observation?code:not=http://loinc.org|8302-2', expected: count('Observation', (o) => !codings(o.code).some((c) => c.system === 'http://loinc.org' && c.code === '8302-2')) },
    { query: 'Observation?code:text=body', expected: count('Observation', (o) => norm(o.code.text ?? '').startsWith('body') || codings(o.code).some((c) => norm(c.display ?? '').startsWith('body'))) },
    { query: 'Observation?code=|8302-2', expected: () => 0 },
    { query: 'Observation?category=vital-signs&code=http://loinc.org|', expected: count('Observation', (o) => o.category?.some((cc: J) => codings(cc).some((c) => c.code === 'vital-signs')) && codings(o.code).some((c) => c.system === 'http://loinc.org')) },
    { query: 'Observation?value-quantity=gt100', expected: count('Observation', (o) => o.valueQuantity?.value > 100) },
    { query: 'Observation?value-quantity=le50|http://unitsofmeasure.org|kg', expected: count('Observation', (o) => o.valueQuantity?.value <= 50 && o.valueQuantity.code === 'kg') },
    { query: 'Observation?value-quantity=ap70', expected: count('Observation', (o) => o.valueQuantity?.value >= 63 && o.valueQuantity.value <= 77) },
    { query: 'Observation?value-quantity=164.3', expected: count('Observation', (o) => o.valueQuantity?.value >= 164.25 && o.valueQuantity.value < 164.35) },
    { query: 'Observation?value-quantity=1.643e2', expected: count('Observation', (o) => o.valueQuantity?.value >= 164.25 && o.valueQuantity.value < 164.35) },
    { query: 'Observation?value-quantity=ne0', expected: count('Observation', (o) => o.valueQuantity && !(o.valueQuantity.value >= -0.5 && o.valueQuantity.value < 0.5)) },
    { query: `Observation?subject=${PATIENT}`, expected: count('Observation', (o) => o.subject.reference === PATIENT) },
    { query: `Observation?patient=${PID}&code=8302-2&date=ge2015`, expected: count('Observation', (o) => o.subject.reference === PATIENT && o.code.coding[0].code === '8302-2' && ms(o.effectiveDateTime) >= ms('2015-01-01')) },
    { query: 'Observation?subject:Patient.name=wyman', expected: (all) => { const ids = new Set(of(all, 'Patient').filter((p) => nameParts(p).some((s) => norm(s).startsWith('wyman'))).map((p) => `Patient/${p.id}`)); return of(all, 'Observation').filter((o) => ids.has(o.subject.reference)).length; } },
    { query: 'Encounter?patient.gender=male', expected: (all) => { const ids = new Set(of(all, 'Patient').filter((p) => p.gender === 'male').map((p) => `Patient/${p.id}`)); return of(all, 'Encounter').filter((e) => ids.has(e.subject.reference)).length; } },
    { query: 'Patient?_has:Condition:patient:code=444814009', expected: (all) => new Set(of(all, 'Condition').filter((c) => codings(c.code).some((x) => x.code === '444814009')).map(patientOf)).size },
    { query: 'Patient?_has:Observation:patient:value-quantity=gt150&gender=male', expected: (all) => { const ids = new Set(of(all, 'Observation').filter((o) => o.valueQuantity?.value > 150).map(patientOf)); return of(all, 'Patient').filter((p) => p.gender === 'male' && ids.has(`Patient/${p.id}`)).length; } },
    { query: 'Encounter?date=ge2019-01-01', expected: count('Encounter', (e) => (e.period.end ? ms(e.period.end) + 1000 : Infinity) > ms('2019-01-01')) },
    { query: 'Condition?onset-date=lt2000', expected: count('Condition', (c) => ms(c.onsetDateTime) < ms('2000-01-01')) },
    { query: 'Condition?abatement-date:missing=true', expected: count('Condition', (c) => !c.abatementDateTime && !c.abatementPeriod) },
    { query: 'Immunization?vaccine-code=140&date=2015', expected: count('Immunization', (i) => codings(i.vaccineCode).some((c) => c.code === '140') && i.occurrenceDateTime.startsWith('2015')) },
    { query: 'Claim?patient=' + PATIENT, expected: count('Claim', (c) => c.patient.reference === PATIENT) },
    { query: 'Encounter?service-provider:missing=false', expected: count('Encounter', (e) => !!e.serviceProvider) },
    { query: 'Observation?_lastUpdated=2024-06-01', expected: (all) => of(all, 'Observation').length },
    { query: 'Observation?_lastUpdated=gt2025-01-01', expected: () => 0 },
    { query: 'RiskAssessment?probability=gt0.4', expected: count('RiskAssessment', (r) => r.prediction.some((x: J) => x.probabilityDecimal > 0.4)) },
    { query: 'RiskAssessment?probability=0.5', expected: count('RiskAssessment', (r) => r.prediction.some((x: J) => x.probabilityDecimal >= 0.45 && x.probabilityDecimal < 0.55)) },
    { query: 'RiskAssessment?probability:missing=false&subject=' + PATIENT, expected: count('RiskAssessment', (r) => r.subject.reference === PATIENT) },
    { query: 'ValueSet?url=http://example.org/fhir/ValueSet/a', expected: count('ValueSet', (v) => v.url === 'http://example.org/fhir/ValueSet/a') },
    { query: 'ValueSet?url:below=http://example.org/fhir', expected: count('ValueSet', (v) => v.url.startsWith('http://example.org/fhir')) },
    { query: 'ValueSet?url:above=http://example.org/fhir/ValueSet/a/b/c', expected: count('ValueSet', (v) => 'http://example.org/fhir/ValueSet/a/b/c'.startsWith(v.url)) },
  ];
}

/** Resources that give the number and uri parameter types something to find (Synthea has none). */
export function supplement(): Resource[] {
  const ra = (id: string, p: number) => ({
    resourceType: 'RiskAssessment', id, status: 'final', subject: { reference: PATIENT }, prediction: [{ probabilityDecimal: p }],
  });
  const vs = (id: string, url: string) => ({ resourceType: 'ValueSet', id, status: 'active', url });
  return [
    ra('ra-1', 0.02), ra('ra-2', 0.5), ra('ra-3', 0.8),
    vs('vs-1', 'http://example.org/fhir/ValueSet/a'), vs('vs-2', 'http://example.org/fhir/ValueSet/a/b'), vs('vs-3', 'http://other.org/vs'),
  ] as Resource[];
}
