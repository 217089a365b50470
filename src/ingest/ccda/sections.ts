import type { CcdaEntry, CcdaSection } from '@medplum/ccda';
import { arr, attr } from './cda-values.ts';
import type { EntryContext } from './context.ts';
import { mapAllergyAct } from './entries/allergy.ts';
import { mapEncounter } from './entries/encounter.ts';
import { mapImmunization } from './entries/immunization.ts';
import { mapMedication } from './entries/medication.ts';
import { mapObservation, mapOrganizer, type ObservationCategory } from './entries/observation.ts';
import { mapProblemAct, mapProblemObservation } from './entries/problem.ts';
import { mapProcedure } from './entries/procedure.ts';

export type SectionKind =
  | 'allergies'
  | 'medications'
  | 'problems'
  | 'diagnoses'
  | 'results'
  | 'vital-signs'
  | 'social-history'
  | 'immunizations'
  | 'procedures'
  | 'encounters';

const P = '2.16.840.1.113883.10.20.22.2.';
/**
 * Section templateId roots and LOINC codes. Any templateId counts, not only the first
 * (fix #4: @medplum/ccda routes on templateId[0] and throws on sections it does not know).
 */
const KINDS: { kind: SectionKind; templates: string[]; loinc: string[] }[] = [
  { kind: 'allergies', templates: ['6', '6.1'], loinc: ['48765-2'] },
  { kind: 'medications', templates: ['1', '1.1', '11', '11.1', '44', '38', '25'], loinc: ['10160-0', '10183-2', '42346-7', '29549-3', '59774-0'] },
  { kind: 'problems', templates: ['5', '5.1'], loinc: ['11450-4'] },
  // Admission/discharge, pre-/post-operative and post-procedure diagnoses, findings, indications, complications.
  { kind: 'diagnoses', templates: ['43', '24', '34', '35', '36', '28', '29', '37'], loinc: ['46241-6', '11535-2', '10219-4', '10218-6', '59769-0', '59776-5', '59768-2', '55109-3'] },
  { kind: 'results', templates: ['3', '3.1'], loinc: ['30954-2'] },
  { kind: 'vital-signs', templates: ['4', '4.1'], loinc: ['8716-3'] },
  { kind: 'social-history', templates: ['17'], loinc: ['29762-2'] },
  { kind: 'immunizations', templates: ['2', '2.1'], loinc: ['11369-6'] },
  { kind: 'procedures', templates: ['7', '7.1'], loinc: ['47519-4'] },
  { kind: 'encounters', templates: ['22', '22.1'], loinc: ['46240-8'] },
];

export function sectionKind(section: CcdaSection): SectionKind | undefined {
  const roots = new Set(arr(section.templateId).map((t) => attr(t, 'root')));
  const byTemplate = KINDS.find((k) => k.templates.some((t) => roots.has(P + t)));
  if (byTemplate) return byTemplate.kind;
  const code = attr(section.code, 'code');
  return KINDS.find((k) => code && k.loinc.includes(code))?.kind;
}

/** Converts every entry of a section of a known kind; entries whose shape does not fit the kind are skipped. */
export function convertSection(section: CcdaSection, kind: SectionKind, ctx: EntryContext): void {
  if (attr(section, 'nullFlavor')) return;
  for (const entry of arr(section.entry)) convertEntry(entry, kind, ctx);
}

const OBSERVATION_CATEGORY: Partial<Record<SectionKind, ObservationCategory>> = {
  results: 'laboratory',
  'vital-signs': 'vital-signs',
  'social-history': 'social-history',
};

function convertEntry(entry: CcdaEntry, kind: SectionKind, ctx: EntryContext): void {
  const category = OBSERVATION_CATEGORY[kind];
  if (category) {
    for (const org of arr(entry.organizer)) mapOrganizer(org, category, ctx);
    for (const obs of arr(entry.observation)) mapObservation(obs, category, ctx);
    return;
  }
  switch (kind) {
    case 'allergies':
      return arr(entry.act).forEach((act) => mapAllergyAct(act, ctx));
    case 'problems':
      arr(entry.act).forEach((act) => mapProblemAct(act, 'problem-list-item', ctx));
      return arr(entry.observation).forEach((obs) => void mapProblemObservation(obs, undefined, 'problem-list-item', ctx));
    case 'diagnoses':
      arr(entry.act).forEach((act) => void mapProblemAct(act, 'encounter-diagnosis', ctx));
      return arr(entry.observation).forEach((obs) => void mapProblemObservation(obs, undefined, 'encounter-diagnosis', ctx));
    case 'medications': {
      // Discharge and admission medications wrap the Medication Activity in an act (4.35, 4.36).
      const wrapped = arr(entry.act).flatMap((act) => arr(act.entryRelationship).flatMap((r) => arr(r.substanceAdministration)));
      return [...arr(entry.substanceAdministration), ...wrapped].forEach((sa) => mapMedication(sa, ctx));
    }
    case 'immunizations':
      return arr(entry.substanceAdministration).forEach((sa) => mapImmunization(sa, ctx));
    case 'procedures':
      return [...arr(entry.procedure), ...arr(entry.act), ...arr(entry.observation)].forEach((p) => mapProcedure(p, ctx));
    case 'encounters':
      return arr(entry.encounter).forEach((enc) => void mapEncounter(enc, ctx));
  }
}
