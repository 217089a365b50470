/** Sorts a $everything result into the sections the viewer shows. Pure. */
import type {
  AllergyIntolerance, Condition, DiagnosticReport, DocumentReference, Encounter, Immunization, MedicationRequest,
  MedicationStatement, Observation, Patient, Procedure, Resource,
} from '@medplum/fhirtypes';
import { byDateDesc } from './source.ts';

export type Medication = MedicationRequest | MedicationStatement;

export interface RecordModel {
  patients: Patient[];
  conditions: Condition[];
  allergies: AllergyIntolerance[];
  medications: Medication[];
  encounters: Encounter[];
  labs: Observation[];
  vitals: Observation[];
  otherObservations: Observation[];
  reports: DiagnosticReport[];
  immunizations: Immunization[];
  procedures: Procedure[];
  documents: DocumentReference[];
}

function hasCategory(o: Observation, code: string): boolean {
  return (o.category ?? []).some((c) => c.coding?.some((x) => x.code === code));
}

function emptyModel(): RecordModel {
  return {
    patients: [], conditions: [], allergies: [], medications: [], encounters: [], labs: [], vitals: [],
    otherObservations: [], reports: [], immunizations: [], procedures: [], documents: [],
  };
}

function place(m: RecordModel, r: Resource): void {
  switch (r.resourceType) {
    case 'Patient': m.patients.push(r); break;
    case 'Condition': m.conditions.push(r); break;
    case 'AllergyIntolerance': m.allergies.push(r); break;
    case 'MedicationRequest':
    case 'MedicationStatement': m.medications.push(r); break;
    case 'Encounter': m.encounters.push(r); break;
    case 'DiagnosticReport': m.reports.push(r); break;
    case 'Immunization': m.immunizations.push(r); break;
    case 'Procedure': m.procedures.push(r); break;
    case 'DocumentReference': m.documents.push(r); break;
    case 'Observation':
      if (hasCategory(r, 'laboratory')) m.labs.push(r);
      else if (hasCategory(r, 'vital-signs')) m.vitals.push(r);
      else m.otherObservations.push(r);
      break;
    default: break;
  }
}

export function buildRecord(resources: Resource[]): RecordModel {
  const m = emptyModel();
  for (const r of resources) place(m, r);
  for (const key of Object.keys(m) as (keyof RecordModel)[]) {
    if (key !== 'patients') (m[key] as Resource[]).sort(byDateDesc);
  }
  return m;
}

const ACTIVE_CONDITION = new Set(['active', 'recurrence', 'relapse']);

export function isActiveCondition(c: Condition): boolean {
  const status = c.clinicalStatus?.coding?.[0]?.code;
  return status === undefined ? !c.abatementDateTime : ACTIVE_CONDITION.has(status);
}

export function isActiveMedication(m: Medication): boolean {
  return m.status === 'active' || m.status === 'intended' || (m.resourceType === 'MedicationStatement' && m.status === 'on-hold');
}

export function isActiveAllergy(a: AllergyIntolerance): boolean {
  const status = a.clinicalStatus?.coding?.[0]?.code;
  return status === undefined || status === 'active';
}

export function medicationConcept(m: Medication): MedicationRequest['medicationCodeableConcept'] {
  return m.medicationCodeableConcept ?? (m.medicationReference?.display ? { text: m.medicationReference.display } : undefined);
}
