import type { Hl7Segment } from '@medplum/core';
import type { Encounter, Identifier } from '@medplum/fhirtypes';
import { repAt, val } from '../fields.ts';
import type { BundleBuilder, Ref } from './context.ts';
import { hl7ToFhirDateTime } from './datetime.ts';
import { codeableConcept, cxIdentifier } from './datatypes.ts';
import { addPractitioner, type PatientLink } from './common.ts';

const CLASS: Record<string, { code: string; display: string }> = {
  E: { code: 'EMER', display: 'emergency' },
  I: { code: 'IMP', display: 'inpatient encounter' },
  O: { code: 'AMB', display: 'ambulatory' },
  P: { code: 'PRENC', display: 'pre-admission' },
  R: { code: 'AMB', display: 'ambulatory' },
  B: { code: 'AMB', display: 'ambulatory' },
  C: { code: 'AMB', display: 'ambulatory' },
  N: { code: 'AMB', display: 'ambulatory' },
};

/** Encounter status by trigger; A08 depends on whether a discharge time is present. */
function encounterStatus(trigger: string, discharged: boolean): Encounter['status'] {
  switch (trigger) {
    case 'A03': return 'finished';
    case 'A05': return 'planned';
    case 'A04': return 'arrived';
    case 'A11': return 'cancelled';
    case 'A13': return 'in-progress';
    case 'A08': return discharged ? 'finished' : 'in-progress';
    default: return 'in-progress';
  }
}

function location(pv1: Hl7Segment): Encounter['location'] {
  const c = repAt(pv1, 3, 0);
  const display = [c(4), c(1), c(2), c(3)].filter(Boolean).join(' ');
  return display ? [{ location: { display }, status: 'active' }] : undefined;
}

/** PV1/PV2 → Encounter, upserted on the PV1-19 visit number so updates don't duplicate. */
export function addEncounter(b: BundleBuilder, pv1: Hl7Segment, pv2: Hl7Segment | undefined, patient: PatientLink, org: Ref): Ref {
  const { encounter, visit } = buildEncounter(b, pv1, pv2, patient, org);
  return b.put('encounter', encounter, visit);
}

/**
 * The visit a non-ADT message (result, immunization, document, order) happened in. Created only when
 * unknown (`ifNoneExist` on PV1-19): ADT owns the Encounter, and an ORU must not overwrite its status.
 */
export function addVisitReference(b: BundleBuilder, patient: PatientLink, org: Ref): Ref | undefined {
  const pv1 = b.parsed.message.getSegment('PV1');
  if (!pv1) return undefined;
  const { encounter, visit } = buildEncounter(b, pv1, undefined, patient, org);
  if (!visit) return undefined;
  return b.createIfNone('encounter', { ...encounter, status: 'unknown' }, visit);
}

function buildEncounter(b: BundleBuilder, pv1: Hl7Segment, pv2: Hl7Segment | undefined, patient: PatientLink, org: Ref): { encounter: Encounter; visit?: Identifier } {
  const tz = b.options.timeZone;
  const start = hl7ToFhirDateTime(val(pv1, 44), tz);
  const end = hl7ToFhirDateTime(val(pv1, 45), tz);
  const cls = CLASS[val(pv1, 2)] ?? { code: 'AMB', display: 'ambulatory' };
  const encounter: Encounter = {
    resourceType: 'Encounter',
    status: encounterStatus(b.header.triggerEvent, !!end),
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', ...cls },
    subject: patient.ref,
    serviceProvider: org,
  };
  const visit = cxIdentifier(repAt(pv1, 19, 0), b.header.facilityKey);
  if (visit) encounter.identifier = [visit];
  if (start || end) encounter.period = { ...(start ? { start } : {}), ...(end ? { end } : {}) };
  const loc = location(pv1);
  if (loc) encounter.location = loc;
  const attending = addPractitioner(b, pv1, 7);
  if (attending) encounter.participant = [{ type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'ATND' }] }], individual: attending }];
  const reason = pv2 ? codeableConcept(repAt(pv2, 3, 0)) : undefined;
  if (reason) encounter.reasonCode = [reason];
  if (val(pv1, 10)) encounter.serviceType = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0069', code: val(pv1, 10) }] };
  return { encounter, visit };
}
