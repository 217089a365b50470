import type { CcdaAct, CcdaCode, CcdaObservation } from '@medplum/ccda';
import type { AllergyIntolerance, AllergyIntoleranceReaction, CodeableConcept } from '@medplum/fhirtypes';
import { arr, attr, concept, effective, effectiveKey, firstCode, isNegated, subjectObservations } from '../cda-values.ts';
import type { EntryContext } from '../context.ts';

const CLINICAL = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical';
const VERIFICATION = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification';
const SNOMED = 'http://snomed.info/sct';
const NO_KNOWN_ALLERGY: CodeableConcept = { coding: [{ system: SNOMED, code: '716186003', display: 'No known allergy' }], text: 'No known allergy' };

type Kind = { type?: AllergyIntolerance['type']; category?: AllergyIntolerance['category'] };
/** SNOMED allergy/intolerance type value set → FHIR type and category (@medplum/ccda always says `food`). */
const KINDS: Record<string, Kind> = {
  '419199007': { type: 'allergy' },
  '416098002': { type: 'allergy', category: ['medication'] },
  '414285001': { type: 'allergy', category: ['food'] },
  '59037007': { type: 'intolerance', category: ['medication'] },
  '235719002': { type: 'intolerance', category: ['food'] },
  '418471000': { category: ['food'] },
  '419511003': { category: ['medication'] },
  '426232007': { type: 'allergy', category: ['environment'] },
  '232347008': { type: 'allergy', category: ['environment'] },
};
const STATUS: Record<string, string> = { '55561003': 'active', '73425007': 'inactive', '413322009': 'resolved' };
/**
 * Problem Severity value set → FHIR's three grades. The in-between grades round up (a reader must not be told a
 * "moderate to severe" reaction was moderate); fatal is severe.
 */
const SEVERITY: Record<string, AllergyIntoleranceReaction['severity']> = {
  '255604002': 'mild',
  '371923003': 'moderate',
  '6736007': 'moderate',
  '371924009': 'severe',
  '24484000': 'severe',
  '399166001': 'severe',
};

/** Allergy Concern Act (4.30) → one AllergyIntolerance per Allergy-Intolerance Observation (4.7). */
export function mapAllergyAct(act: CcdaAct, ctx: EntryContext): void {
  const observations = subjectObservations(act, '2.16.840.1.113883.10.20.22.4.7');
  if (observations.length === 0) return ctx.skip('allergy-act-without-observation');
  for (const obs of observations) mapAllergyObservation(obs, act, ctx);
}

function mapAllergyObservation(obs: CcdaObservation, act: CcdaAct, ctx: EntryContext): void {
  const allergen = concept(arr(obs.participant)[0]?.participantRole?.playingEntity?.code);
  const negated = isNegated(obs);
  // Negated with an allergen: "not allergic to X" (refuted); negated without one: no known allergy.
  const code = allergen ?? (negated ? NO_KNOWN_ALLERGY : concept(obs.value as CcdaCode));
  if (!code) return ctx.skip('allergy-without-substance');
  const kind = KINDS[attr(obs.value, 'code') ?? ''] ?? {};
  const onset = effective(obs.effectiveTime);
  const resource: AllergyIntolerance = {
    resourceType: 'AllergyIntolerance',
    clinicalStatus: { coding: [{ system: CLINICAL, code: clinicalStatus(obs, act) }] },
    verificationStatus: { coding: [{ system: VERIFICATION, code: negated && allergen ? 'refuted' : 'confirmed' }] },
    code,
    patient: ctx.patient,
  };
  if (!negated && kind.type) resource.type = kind.type;
  if (!negated && kind.category) resource.category = kind.category;
  const onsetAt = onset.dateTime ?? onset.period?.start;
  if (onsetAt) resource.onsetDateTime = onsetAt;
  const recorded = effective(act.effectiveTime);
  if (recorded.dateTime ?? recorded.period?.start) resource.recordedDate = recorded.dateTime ?? recorded.period?.start;
  const reactions = reactionsOf(obs);
  if (reactions.length) resource.reaction = reactions;
  ctx.add(resource, obs.id ?? act.id, ['AllergyIntolerance', firstCode(resource.code), effectiveKey(onset)]);
}

function clinicalStatus(obs: CcdaObservation, act: CcdaAct): string {
  for (const rel of arr(obs.entryRelationship)) {
    for (const o of arr(rel.observation)) {
      const s = STATUS[attr(o.value, 'code') ?? ''];
      if (s && attr(o.code, 'code') === '33999-4') return s;
    }
  }
  const actStatus = attr(act.statusCode, 'code');
  return actStatus === 'completed' || actStatus === 'aborted' ? 'inactive' : 'active';
}

function reactionsOf(obs: CcdaObservation): AllergyIntoleranceReaction[] {
  const out: AllergyIntoleranceReaction[] = [];
  for (const rel of arr(obs.entryRelationship).filter((r) => attr(r, 'typeCode') === 'MFST')) {
    for (const ro of arr(rel.observation)) {
      const manifestation = concept(ro.value as CcdaCode);
      if (!manifestation) continue;
      const reaction: AllergyIntoleranceReaction = { manifestation: [manifestation] };
      const onset = effective(ro.effectiveTime);
      if (onset.dateTime ?? onset.period?.start) reaction.onset = onset.dateTime ?? onset.period?.start;
      const severity = severityOf(ro) ?? severityOf(obs);
      if (severity) reaction.severity = severity;
      out.push(reaction);
    }
  }
  return out;
}

function severityOf(obs: CcdaObservation): AllergyIntoleranceReaction['severity'] {
  for (const rel of arr(obs.entryRelationship).filter((r) => attr(r, 'typeCode') === 'SUBJ')) {
    for (const o of arr(rel.observation)) {
      const s = SEVERITY[attr(o.value, 'code') ?? ''];
      if (s) return s;
    }
  }
  return undefined;
}
