import type { Hl7Segment } from '@medplum/core';
import type { AllergyIntolerance, Condition, Coverage, RelatedPerson } from '@medplum/fhirtypes';
import { reps, repAt, val } from '../fields.ts';
import type { BundleBuilder, Ref } from './context.ts';
import { hl7ToFhirDate, hl7ToFhirDateTime } from './datetime.ts';
import { address, codeableConcept, contactPoint, humanName } from './datatypes.ts';
import { derivedIdentifier, type PatientLink } from './common.ts';

const ALLERGY_CATEGORY: Record<string, AllergyIntolerance['category']> = {
  DA: ['medication'], FA: ['food'], EA: ['environment'], AA: ['biologic'], PA: ['environment'], MA: ['medication'],
};
/** HL7 table 0128 → reaction severity; U (unknown) has none. */
const REACTION_SEVERITY: Record<string, 'mild' | 'moderate' | 'severe'> = { SV: 'severe', MO: 'moderate', MI: 'mild' };
/** R4 requires a manifestation: a severity given without a reaction keeps it with an unknown manifestation. */
const UNKNOWN_MANIFESTATION = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown', display: 'Unknown' }] };

/** AL1 (and IAM, same leading layout for fields 2–3) → AllergyIntolerance. */
export function addAllergy(b: BundleBuilder, seg: Hl7Segment, patient: PatientLink, index: number): void {
  const code = codeableConcept(repAt(seg, 3, 0));
  if (!code) return;
  const identifier = derivedIdentifier(b, 'allergy', patient, code.coding?.[0]?.code ?? code.text ?? '');
  const type = val(seg, 2);
  const ai: AllergyIntolerance = {
    resourceType: 'AllergyIntolerance',
    identifier: [identifier],
    patient: patient.ref,
    code,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: seg.name === 'IAM' && val(seg, 6) === 'D' ? 'inactive' : 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', code: 'confirmed' }] },
  };
  if (ALLERGY_CATEGORY[type]) ai.category = ALLERGY_CATEGORY[type];
  const severity = REACTION_SEVERITY[val(seg, 4)];
  const reaction = reps(seg, 5).map((c) => c(1) || c(2)).filter(Boolean);
  if (reaction.length || severity) {
    ai.reaction = [{ manifestation: reaction.length ? reaction.map((text) => ({ text })) : [UNKNOWN_MANIFESTATION], ...(severity ? { severity } : {}) }];
  }
  const onset = hl7ToFhirDate(val(seg, 6));
  if (seg.name === 'AL1' && onset) ai.onsetDateTime = onset;
  b.put(`allergy:${index}`, ai, identifier);
}

/** DG1 → Condition (encounter diagnosis). */
export function addDiagnosis(b: BundleBuilder, seg: Hl7Segment, patient: PatientLink, encounter: Ref | undefined, index: number): void {
  const code = codeableConcept(repAt(seg, 3, 0)) ?? (val(seg, 4) ? { text: val(seg, 4) } : undefined);
  if (!code) return;
  const identifier = derivedIdentifier(b, 'diagnosis', patient, code.coding?.[0]?.code ?? code.text ?? '', val(seg, 5).slice(0, 8));
  const condition: Condition = {
    resourceType: 'Condition',
    identifier: [identifier],
    subject: patient.ref,
    code,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis' }] }],
  };
  if (encounter) condition.encounter = encounter;
  const onset = hl7ToFhirDateTime(val(seg, 5), b.options.timeZone);
  if (onset) condition.onsetDateTime = onset;
  b.put(`diagnosis:${index}`, condition, identifier);
}

/** NK1 → RelatedPerson. */
export function addNextOfKin(b: BundleBuilder, seg: Hl7Segment, patient: PatientLink, index: number): void {
  const names = reps(seg, 2).map((c) => humanName(c)).filter((n) => n !== undefined);
  if (names.length === 0) return;
  const identifier = derivedIdentifier(b, 'related-person', patient, names[0].family ?? '', names[0].given?.[0] ?? '');
  const rp: RelatedPerson = { resourceType: 'RelatedPerson', identifier: [identifier], patient: patient.ref, name: names };
  const rel = codeableConcept(repAt(seg, 3, 0));
  if (rel) rp.relationship = [rel];
  const addresses = reps(seg, 4).map(address).filter((a) => a !== undefined);
  if (addresses.length) rp.address = addresses;
  const telecom = [...reps(seg, 5), ...reps(seg, 6)].map(contactPoint).filter((t) => t !== undefined);
  if (telecom.length) rp.telecom = telecom;
  b.put(`related-person:${index}`, rp, identifier);
}

/** IN1 → Coverage; the payor is named (IN1-4) rather than resolved to an Organization. */
export function addCoverage(b: BundleBuilder, seg: Hl7Segment, patient: PatientLink, index: number): void {
  const plan = val(seg, 2) || val(seg, 2, 2);
  const policy = val(seg, 36) || val(seg, 49);
  const payor = val(seg, 4) || val(seg, 3);
  if (!plan && !policy && !payor) return;
  const identifier = derivedIdentifier(b, 'coverage', patient, plan, policy);
  const coverage: Coverage = {
    resourceType: 'Coverage',
    identifier: [identifier],
    status: 'active',
    beneficiary: patient.ref,
    payor: [{ display: payor || plan }],
  };
  if (policy) coverage.subscriberId = policy;
  const type = codeableConcept(repAt(seg, 15, 0));
  if (type) coverage.type = type;
  if (val(seg, 8)) coverage.class = [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code: 'group' }] }, value: val(seg, 8), ...(val(seg, 9) ? { name: val(seg, 9) } : {}) }];
  const start = hl7ToFhirDate(val(seg, 12));
  const end = hl7ToFhirDate(val(seg, 13));
  if (start || end) coverage.period = { ...(start ? { start } : {}), ...(end ? { end } : {}) };
  b.put(`coverage:${index}`, coverage, identifier);
}
