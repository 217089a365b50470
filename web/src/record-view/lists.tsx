/** The simple clinical lists: problems, medications, allergies, encounters, immunizations, procedures. */
import type { AllergyIntolerance, Condition, Encounter, Immunization, Procedure } from '@medplum/fhirtypes';
import { conceptKey, conceptText } from '../record/display.ts';
import { medicationConcept, type Medication } from '../record/record-model.ts';
import { ItemList } from './item-list.tsx';

interface ListProps<T> {
  items: T[];
  limit?: number;
}

const statusOf = (cc: Condition['clinicalStatus']): string => cc?.coding?.[0]?.code ?? '';

export function ProblemList({ items, limit }: ListProps<Condition>) {
  return (
    <ItemList label="Problems" items={items} limit={limit} empty="No problems on record." keyOf={(c) => conceptKey(c.code)}
      title={(c) => conceptText(c.code)} detail={(c) => statusOf(c.clinicalStatus)} />
  );
}

export function MedicationList({ items, limit }: ListProps<Medication>) {
  return (
    <ItemList label="Medications" items={items} limit={limit} empty="No medications on record."
      keyOf={(m) => conceptKey(medicationConcept(m))} title={(m) => conceptText(medicationConcept(m))}
      detail={(m) => [m.status, m.resourceType === 'MedicationRequest' ? m.dosageInstruction?.[0]?.text : m.dosage?.[0]?.text].filter(Boolean).join(' · ')} />
  );
}

export function AllergyList({ items, limit }: ListProps<AllergyIntolerance>) {
  return (
    <ItemList label="Allergies" items={items} limit={limit} empty="No known allergies on record." keyOf={(a) => conceptKey(a.code)}
      title={(a) => conceptText(a.code)}
      detail={(a) => [a.criticality && `criticality ${a.criticality}`, a.reaction?.[0]?.manifestation?.map(conceptText).join(', ')].filter(Boolean).join(' · ')} />
  );
}

function encounterTitle(e: Encounter): string {
  const type = e.type?.[0] ? conceptText(e.type[0]) : e.class?.display ?? e.class?.code ?? 'Visit';
  return type;
}

export function EncounterList({ items, limit }: ListProps<Encounter>) {
  return (
    <ItemList label="Encounters" items={items} limit={limit} empty="No visits on record." keyOf={(e) => e.class?.code ?? 'enc'}
      title={encounterTitle}
      detail={(e) => [e.status, e.reasonCode?.map(conceptText).join(', '), e.location?.[0]?.location.display].filter(Boolean).join(' · ')} />
  );
}

export function ImmunizationList({ items, limit }: ListProps<Immunization>) {
  return (
    <ItemList label="Immunizations" items={items} limit={limit} empty="No immunizations on record."
      keyOf={(i) => conceptKey(i.vaccineCode)} title={(i) => conceptText(i.vaccineCode)} detail={(i) => i.status} />
  );
}

export function ProcedureList({ items, limit }: ListProps<Procedure>) {
  return (
    <ItemList label="Procedures" items={items} limit={limit} empty="No procedures on record."
      keyOf={(p) => conceptKey(p.code)} title={(p) => conceptText(p.code)} detail={(p) => p.status} />
  );
}
