/** Where a resource came from and its clinical date. Pure functions. */
import type { Person, Reference, Resource } from '@medplum/fhirtypes';

export const SOURCE_ORG_URL = 'https://katahdin.org/fhir/StructureDefinition/source-organization';
export const PERSON_URL = 'https://katahdin.org/fhir/StructureDefinition/person';

interface WithExtensions {
  extension?: { url: string; valueReference?: Reference }[];
}

function extensionRef(r: Resource, url: string): Reference | undefined {
  return (r as WithExtensions).extension?.find((e) => e.url === url)?.valueReference;
}

/** Readable name of the organization that sent this item. */
export function sourceName(r: Resource): string {
  const ref = extensionRef(r, SOURCE_ORG_URL);
  if (ref?.display) return ref.display;
  const src = r.meta?.source;
  if (src?.startsWith('urn:katahdin:')) {
    const parts = src.split(':');
    return parts.slice(3).join(':') || parts[2] || src;
  }
  return src ?? ref?.reference ?? 'Source not recorded';
}

/** A stable key for the source (organization reference, else meta.source). */
export function sourceKey(r: Resource): string {
  return extensionRef(r, SOURCE_ORG_URL)?.reference ?? r.meta?.source ?? 'unknown';
}

export function personIdOf(r: Resource): string | undefined {
  const ref = extensionRef(r, PERSON_URL)?.reference;
  return ref?.startsWith('Person/') ? ref.slice('Person/'.length) : undefined;
}

/** The first source Patient an MPI Person links (the person's reports and records are reached through one). */
export function patientIdOfPerson(person: Person): string | undefined {
  const ref = person.link?.find((l) => l.target.reference?.startsWith('Patient/'))?.target.reference;
  return ref?.slice('Patient/'.length);
}

type Dated = Record<string, unknown>;

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function periodStart(v: unknown): string | undefined {
  return typeof v === 'object' && v !== null ? str((v as { start?: unknown }).start) : undefined;
}

/** The clinical date of a resource (when it happened), falling back to when it was recorded. */
export function clinicalDate(r: Resource): string | undefined {
  const x = r as unknown as Dated;
  switch (r.resourceType) {
    case 'Condition':
      return str(x.onsetDateTime) ?? periodStart(x.onsetPeriod) ?? str(x.recordedDate);
    case 'AllergyIntolerance':
      return str(x.onsetDateTime) ?? str(x.recordedDate);
    case 'MedicationRequest':
      return str(x.authoredOn);
    case 'MedicationStatement':
      return str(x.effectiveDateTime) ?? periodStart(x.effectivePeriod) ?? str(x.dateAsserted);
    case 'Observation':
    case 'DiagnosticReport':
      return str(x.effectiveDateTime) ?? periodStart(x.effectivePeriod) ?? str(x.issued);
    case 'Encounter':
      return periodStart(x.period);
    case 'Immunization':
      return str(x.occurrenceDateTime) ?? str(x.recorded);
    case 'Procedure':
      return str(x.performedDateTime) ?? periodStart(x.performedPeriod);
    case 'DocumentReference':
      return str(x.date) ?? periodStart((x.context as Dated | undefined)?.period);
    default:
      return r.meta?.lastUpdated;
  }
}

/** Newest first; undated items last. */
export function byDateDesc<T extends Resource>(a: T, b: T): number {
  return (clinicalDate(b) ?? '').localeCompare(clinicalDate(a) ?? '');
}
