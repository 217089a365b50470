import type { Resource } from '@medplum/fhirtypes';

/**
 * Where each resource keeps the date of the care it describes, in order of preference. One generic
 * list serves every type because FHIR reuses the element names (`effective[x]` on Observation,
 * DiagnosticReport and the medication resources; `occurrence[x]` on Immunization; …).
 * `recordedDate` comes before `onset[x]` on purpose: a long-standing condition noted at a visit after
 * opt-in belongs to that visit, while its onset may be decades old.
 */
const DATE_FIELDS: readonly string[] = [
  'period', // Encounter, EpisodeOfCare, CarePlan
  'effective', // Observation, DiagnosticReport, Medication{Statement,Administration}
  'occurrence', // Immunization, ServiceRequest
  'performed', // Procedure
  'whenHandedOver', // MedicationDispense
  'whenPrepared',
  'authoredOn', // MedicationRequest, ServiceRequest
  'recordedDate', // Condition, AllergyIntolerance
  'onset',
  'billablePeriod', // Claim, ExplanationOfBenefit
  'started', // ImagingStudy
  'startDate', // Goal
  'context.period', // DocumentReference (the care the document covers)
  'issued',
  'dateAsserted',
  'date', // Composition, DocumentReference (index date)
  'created',
  'occurred', // Provenance
  'recorded',
];

const CHOICE_SUFFIXES = ['', 'DateTime', 'Period', 'Instant', 'Date'];

type JsonObject = Record<string, unknown>;

function asDate(value: unknown): string | undefined {
  if (typeof value === 'string') return Number.isNaN(Date.parse(value)) ? undefined : value;
  if (typeof value === 'object' && value !== null) {
    const p = value as { start?: unknown; end?: unknown };
    return asDate(p.start) ?? asDate(p.end);
  }
  return undefined;
}

function lookup(obj: JsonObject, path: string): unknown {
  const parts = path.split('.');
  const last = parts.pop() as string;
  let node: unknown = obj;
  for (const p of parts) node = typeof node === 'object' && node !== null ? (node as JsonObject)[p] : undefined;
  if (typeof node !== 'object' || node === null) return undefined;
  for (const suffix of CHOICE_SUFFIXES) {
    const v = asDate((node as JsonObject)[last + suffix]);
    if (v) return v;
  }
  return undefined;
}

/** The clinical date used for opt-in filtering; `receivedAt` when the resource carries none. */
export function clinicalDate(resource: Resource, receivedAt: string): string {
  const obj = resource as unknown as JsonObject;
  for (const field of DATE_FIELDS) {
    const v = lookup(obj, field);
    if (typeof v === 'string') return v;
  }
  return receivedAt;
}

/**
 * Compares a FHIR date/dateTime with an instant. A value without a time is compared by calendar day with the instant's
 * day as written (UTC for stored opt-in dates), so a visit on the opt-in day itself counts as on or after it; a partial
 * value ("2024", "2024-03") is taken at its first day, so a month or year that began before the opt-in day is before it.
 */
export function isOnOrAfter(fhirDate: string, instant: string): boolean {
  const partial = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(fhirDate);
  if (partial) return `${partial[1]}-${partial[2] ?? '01'}-${partial[3] ?? '01'}` >= instant.slice(0, 10);
  return Date.parse(fhirDate) >= Date.parse(instant);
}
