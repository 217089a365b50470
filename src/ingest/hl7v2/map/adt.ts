import { val } from '../fields.ts';
import type { Hl7Error } from '../types.ts';
import type { BundleBuilder, Ref } from './context.ts';
import { addAllergy, addCoverage, addDiagnosis, addNextOfKin } from './adt-clinical.ts';
import { addPatient, derivedIdentifier, isError, type PatientLink } from './common.ts';
import { addEncounter } from './encounter.ts';
import { addObservation, obxKeys } from './observation.ts';

export const ADT_EVENTS = ['A01', 'A02', 'A03', 'A04', 'A05', 'A06', 'A07', 'A08', 'A11', 'A13', 'A28', 'A31'] as const;

/** Events that carry person data only (no visit to record). */
const PERSON_ONLY = new Set(['A28', 'A31']);

/** ADT person/visit events → Patient, Encounter and the clinical segments that ride along. */
export function mapAdt(b: BundleBuilder, org: Ref): Hl7Error | undefined {
  const msg = b.parsed.message;
  const patient = addPatient(b, msg.getSegment('PID'), org);
  if (isError(patient)) return patient;
  const pv1 = msg.getSegment('PV1');
  const hasVisit = pv1 && !PERSON_ONLY.has(b.header.triggerEvent) && (val(pv1, 2) !== '' || val(pv1, 19) !== '');
  const encounter = hasVisit ? addEncounter(b, pv1, msg.getSegment('PV2'), patient, org) : undefined;
  msg.getAllSegments('AL1').forEach((s, i) => addAllergy(b, s, patient, i));
  msg.getAllSegments('IAM').forEach((s, i) => addAllergy(b, s, patient, 1000 + i));
  msg.getAllSegments('DG1').forEach((s, i) => addDiagnosis(b, s, patient, encounter, i));
  msg.getAllSegments('NK1').forEach((s, i) => addNextOfKin(b, s, patient, i));
  msg.getAllSegments('IN1').forEach((s, i) => addCoverage(b, s, patient, i));
  return addAdtObservations(b, patient, encounter);
}

/** OBX in ADT (height, weight, pregnancy status …): Observations keyed per patient + visit + code. */
function addAdtObservations(b: BundleBuilder, patient: PatientLink, encounter: Ref | undefined): Hl7Error | undefined {
  const obx = b.parsed.message.getAllSegments('OBX').map((seg, i) => ({ seg, seq: i + 1 }));
  if (!obx.length) return undefined;
  const pv1 = b.parsed.message.getSegment('PV1');
  const anchor = derivedIdentifier(b, 'adt-observation', patient, pv1 ? val(pv1, 19) : '');
  const keys = obxKeys(obx);
  // A bad OBX must not cost the registration: skip it and say so.
  for (const [i, o] of obx.entries()) {
    const ref = addObservation(b, 'adt', o, { patient, encounter, anchor }, keys[i]);
    if (isError(ref)) b.warnings.push({ code: ref.code, reason: `OBX ${o.seq} skipped: ${ref.reason}`, location: ref.location });
  }
  return undefined;
}
