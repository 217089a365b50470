import type { Bundle, Encounter, Immunization, MedicationDispense, MedicationRequest, Observation, Patient, Resource } from '@medplum/fhirtypes';

/** Resource types whose counts are compared with the oracle (the clinical ones; see docs/INGESTION.md). */
export const COMPARED_TYPES = [
  'Patient', 'Encounter', 'AllergyIntolerance', 'Condition', 'RelatedPerson', 'Coverage', 'Immunization',
  'DiagnosticReport', 'Observation', 'DocumentReference', 'MedicationRequest', 'MedicationDispense', 'ServiceRequest',
] as const;

/** The meaning of a bundle, without ids: what the oracle comparison looks at. */
export interface Meaning {
  counts: Record<string, number>;
  patient?: { family?: string; given?: string; birthDate?: string; gender?: string };
  encounter?: { classCode?: string; start?: string };
  /** `code=value unit` for every Observation with a quantity value, sorted. */
  quantities: string[];
  immunizations: string[];
  medications: string[];
}

function resources(bundle: Bundle): Resource[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is Resource => !!r);
}

function ofType<T extends Resource>(all: Resource[], type: T['resourceType']): T[] {
  return all.filter((r): r is T => r.resourceType === type);
}

/** Dates compared to the minute in UTC, so offsets written differently still match. */
export function instant(v: string | undefined): string | undefined {
  if (!v) return undefined;
  if (v.length <= 10) return v;
  const t = Date.parse(v);
  return Number.isNaN(t) ? v : new Date(t).toISOString().slice(0, 16);
}

export function meaningOf(bundle: Bundle): Meaning {
  const all = resources(bundle);
  const counts: Record<string, number> = {};
  for (const t of COMPARED_TYPES) counts[t] = ofType(all, t).length;
  const p = ofType<Patient>(all, 'Patient')[0];
  const e = ofType<Encounter>(all, 'Encounter')[0];
  const quantities = ofType<Observation>(all, 'Observation')
    .filter((o) => o.valueQuantity?.value !== undefined)
    .map((o) => `${o.code.coding?.[0]?.code}=${o.valueQuantity?.value} ${o.valueQuantity?.unit ?? ''}`.trim())
    .sort();
  const immunizations = ofType<Immunization>(all, 'Immunization').map((i) => `${i.vaccineCode.coding?.[0]?.code}@${(i.occurrenceDateTime ?? '').slice(0, 10)}`).sort();
  const medications = [...ofType<MedicationRequest>(all, 'MedicationRequest'), ...ofType<MedicationDispense>(all, 'MedicationDispense')]
    .map((m) => `${m.resourceType}:${m.medicationCodeableConcept?.coding?.[0]?.code ?? '(Medication resource)'}`).sort();
  return {
    counts,
    patient: p && { family: p.name?.[0]?.family, given: p.name?.[0]?.given?.[0], birthDate: p.birthDate, gender: p.gender },
    encounter: e && { classCode: e.class?.code, start: instant(e.period?.start) },
    quantities,
    immunizations,
    medications,
  };
}
